"""The built-in super-resolution methods (installed as ``srbench.methods``).

Importing this package registers every built-in method with the core registry
(:mod:`srbench.run.registry`): names, metadata and factories, and the trainer's
:class:`~srbench.methods.specs.TrainSpec` s. Registration imports no torch; a
network is built only when its method is. The registry imports this package by
name the first time a method is looked up, so use ``srbench.get_method`` /
``srbench.list_methods`` rather than importing it yourself.

=============================  ==========================================================
``classic.py``                 nearest, bicubic (MATLAB ``imresize``)
``srgan_family.py``            SRResNet / SRGAN variants of Table 1 (train specs + methods)
``reference_family.py``        SRCNN, ESPCN of Table 2 (networks in ``reference_models.py``)
``families.py``                ``external:NAME=DIR`` (``external.py``), ``published:``, ``checkpoint:LABEL=DIR``
                               (``own_checkpoint.py``)
=============================  ==========================================================
"""

from srbench.run.registry import Method, all_method_names, get_method, list_methods, register_method  # noqa: F401

# registration order is the order of 'srbench run --methods all' (and of its output rows)
from . import classic  # noqa: F401,E402
from . import srgan_family  # noqa: F401,E402  SRResNet / SRGAN variants (Table 1)
from . import reference_family  # noqa: F401,E402  SRCNN, ESPCN (Table 2)
from . import families  # noqa: F401,E402  external:NAME=DIR
