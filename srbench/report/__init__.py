"""The report layer: Tables 1-2, Figure 5 and statistics from ``srbench run`` folders and MOS ratings.

It sits above the core, the methods and the MOS app (it reads the MOS app's
answer files through :class:`srbench.mos_app.store.Store`); nothing below
imports it. ``srbench report`` (:mod:`srbench.cli.report`) is its command line.

=====================  =====================================================================
``build.py``           :func:`build_report`: reads the inputs, writes every output atomically
``inputs.py``          run folders and ratings (CSV or the MOS app's database)
``tables.py``          the cells of Tables 1 and 2 (rows from the paper and the method registry)
``render.py``          Markdown, LaTeX and CSV text of a table
``provenance.py``      the report header (inputs, checksums, revisions, statistics notes)
``figure.py``          Figure 5 (MOS distribution on BSD100)
``no_reference_column.py`` Table 2's no-reference columns, e.g. NIQE (ours: the paper has none)
``perception.py``      the perception-distortion plane (RMSE vs NIQE per set)
``agreement.py``       which metric agrees with people: rank correlations with MOS
=====================  =====================================================================
"""

from .build import CORRECTIONS, DEFAULT_OUT, OUTPUT_NAMES, RESULTS, build_report, default_ratings, default_runs

__all__ = ["build_report", "default_runs", "default_ratings", "DEFAULT_OUT", "RESULTS", "OUTPUT_NAMES", "CORRECTIONS"]
