"""Table 2's reference CNNs, SRCNN and ESPCN: train specs and registry methods (no torch on import).

The networks themselves are in ``reference_models.py`` (torch); their
factories here import it only when a network is built.
"""

from __future__ import annotations

from .specs import TRAIN_SPECS, TrainSpec, register_spec
from srbench.run.registry import COMMON_SETTINGS, PaperRow, register_method

# Trainer defaults (keys as in methods/srgan_family.py), sized for ~12 minutes on
# 2 CPU cores. SRCNN runs at HR resolution (~8.1k multiply-adds per HR pixel),
# ESPCN at LR resolution (~37k per LR pixel = ~2.3k per HR pixel). Measured
# here with `srbench train --budget-minutes 12` (cores shared with other jobs):
# SRCNN 1-4 it/s, ESPCN ~12 it/s. Adam; lr 1e-3, divided by 10 for the last
# third (of the iterations, or of the time with --budget-minutes).
SRCNN_DEFAULTS: dict = {
    "iterations": 3_000,
    "lr": 1e-3,
    "lr_steps": [(2_000, 1e-4)],
    "batch_size": 16,
    "hr_patch": 64,
    "adam_betas": (0.9, 0.999),
}
ESPCN_DEFAULTS: dict = {
    "iterations": 9_000,
    "lr": 1e-3,
    "lr_steps": [(6_000, 1e-4)],
    "batch_size": 16,
    "hr_patch": 96,
    "adam_betas": (0.9, 0.999),
}


def build_srcnn(**size):
    """SRCNN 9-1-5 (``reference_models.SRCNN``; size keywords ``n1``, ``n2``, ``f1``..``f3``)."""
    from .reference_models import SRCNN

    return SRCNN(**size)


def build_espcn(**size):
    """ESPCN 5-3-3 with sub-pixel x4 (``reference_models.ESPCN``; size keywords ``n1``, ``n2``)."""
    from .reference_models import ESPCN

    return ESPCN(**size)


register_spec(TrainSpec(name="srcnn", build_generator=build_srcnn, output_range=(0.0, 1.0), defaults=SRCNN_DEFAULTS))
register_spec(TrainSpec(name="espcn", build_generator=build_espcn, output_range=(0.0, 1.0), defaults=ESPCN_DEFAULTS))


def _neural_factory(name: str):
    def build(**settings):
        from .neural import NeuralMethod

        return NeuralMethod(TRAIN_SPECS[name], **settings)

    return build


_LEARNED = dict(kind="learned", trainable=True, needs_checkpoint=True, settings=COMMON_SETTINGS)
register_method("srcnn", _neural_factory("srcnn"), label="SRCNN", paper_rows=(PaperRow(2, "SRCNN"),),
                description="SRCNN 9-1-5 on bicubic luma (Dong et al. 2014), re-trained here", **_LEARNED)
register_method("espcn", _neural_factory("espcn"), label="ESPCN", paper_rows=(PaperRow(2, "ESPCN"),),
                description="ESPCN with sub-pixel convolution (Shi et al. 2016), re-trained here", **_LEARNED)
