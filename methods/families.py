"""Method families registered by prefix: a member's name carries its parameter.

* ``external:NAME=DIR`` - ready-made SR images in ``DIR`` evaluated as method
  ``NAME`` (``external.py``). SelfExSR and DRCN, Table 2's methods that
  srbench does not re-implement, enter the tables this way
  (``external:selfexsr=DIR``, ``external:drcn=DIR``).
* ``published:METHOD`` - the SRGAN paper's released images (``published.py``,
  release ``ledig2017``): ``published:srresnet-mse``, ``published:srgan-vgg54``.
  The report shows them as their own rows beside the paper rows they
  reproduce ("SRGAN (authors' images)"), never in place of ours; once fetched
  they are part of ``--methods all``.
* ``checkpoint:LABEL=DIR`` - a checkpoint you trained (``DIR/model.safetensors``,
  its sidecar names the architecture), run like the built-in method of that
  architecture and shown in the report as its own row ("ESPCN (LABEL)") under
  that method's paper row (``own_checkpoint.py``).

The factories are named as ``"module:function"``: the registry imports them
only when a member is built.
"""

from __future__ import annotations

from srbench.run.registry import PaperRow, register_family

register_family(
    "external", "srbench.methods.external:family_member", kind="external", settings=(), usage="external:NAME=DIR",
    description="external:NAME=DIR - a folder of ready-made SR images named like the HR files",
    members={"selfexsr": (PaperRow(2, "SelfExSR"),), "drcn": (PaperRow(2, "DRCN"),)},
)

register_family(
    "published", "srbench.methods.published:family_member", kind="published", settings=("published_root",),
    description="published:METHOD - the SRGAN authors' released images (srbench datasets fetch --datasets ledig2017)",
    members={"srresnet-mse": (PaperRow(1, "SRResNet-MSE"), PaperRow(2, "SRResNet")),
             "srgan-vgg54": (PaperRow(1, "SRGAN-VGG54"), PaperRow(2, "SRGAN"))},
    members_in_all=True,
)

register_family(
    "checkpoint", "srbench.methods.own_checkpoint:family_member", kind="learned",
    settings=("device", "tile", "overlap"), usage="checkpoint:LABEL=DIR",
    description="checkpoint:LABEL=DIR - your own trained checkpoint (DIR/model.safetensors; its sidecar names the "
                "architecture), a row of its own beside the committed model",
)
