"""Method families registered by prefix: a member's name carries its parameter.

* ``external:NAME=DIR`` - ready-made SR images in ``DIR`` evaluated as method
  ``NAME`` (``external.py``). SelfExSR and DRCN, Table 2's methods that
  srbench does not re-implement, enter the tables this way
  (``external:selfexsr=DIR``, ``external:drcn=DIR``).

The factories are named as ``"module:function"``: the registry imports them
only when a member is built.
"""

from __future__ import annotations

from srbench.registry import PaperRow, register_family

register_family(
    "external", "srbench.methods.external:family_member", kind="external", settings=(), usage="external:NAME=DIR",
    description="external:NAME=DIR - a folder of ready-made SR images named like the HR files",
    members={"selfexsr": (PaperRow(2, "SelfExSR"),), "drcn": (PaperRow(2, "DRCN"),)},
)
