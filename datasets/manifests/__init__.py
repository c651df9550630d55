"""Data package: the benchmark sets' manifests (``<set>.json``), installed as ``srbench.manifests``.

Read them with ``importlib.resources.files("srbench.manifests")`` (see
``srbench/data/sets.py``); this folder stays where the checkout keeps it.
"""
