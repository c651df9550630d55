"""The metric registry: every metric a run can measure, one :class:`Metric` record each.

A metric is *full-reference* (compares the SR image with the HR image: PSNR
and SSIM, computed together under each protocol of :mod:`srbench.metrics`)
or *no-reference* (judges the SR image alone: NIQE, and any metric a plugin
adds with :func:`register_metric`). The runner, the CSV columns and the
report's columns come from these records:

* a no-reference metric ``NAME`` adds the CSV columns ``NAME,NAME_note`` to
  ``per_image.csv`` and ``summary.csv`` (value, and why it is ``n/a``) and is
  measured once per image, on the HR images too (method ``hr``);
* the report's Table 2 gains a column ``LABEL ↓/↑ (ours)`` per no-reference
  metric a run measured; bold marks the best mean by ``direction``.

Plugins register metrics on import, like methods: a module named by
``--plugin``, ``$SRBENCH_PLUGINS`` or an entry point of the groups
``srbench.methods`` or ``srbench.metrics``. This module imports no numpy.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from srbench.errors import SrbenchError

FULL_REFERENCE_KIND = "full-reference"
NO_REFERENCE_KIND = "no-reference"
ENTRY_POINT_GROUP = "srbench.metrics"


def _resolve(target: str | Callable | None) -> Callable | None:
    """A callable given as itself or as ``"module:name"`` (imported on first use, also in worker processes)."""
    if target is None or callable(target):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Metric:
    """One metric.

    ``name``: lower-case id, the CSV column and the ``--metrics`` name.
    ``kind``: :data:`FULL_REFERENCE_KIND` or :data:`NO_REFERENCE_KIND`.
    ``direction``: ``"lower"`` or ``"higher"`` is better. ``label``: display name.
    ``needs``: what it takes besides the SR image, e.g. ``("hr",)`` or
    ``("model",)`` (a file, loaded once per run by ``prepare``).
    No-reference metrics: ``compute(sr, state) -> (value or None, note)`` on
    a uint8 RGB (H, W, 3) image, ``note`` saying why the value is None;
    ``prepare(option) -> state`` runs once before any work (``option``: the
    user's setting, e.g. a model path; None by default) and may raise
    :class:`SrbenchError`; ``record(state) -> dict`` goes into ``run.json``
    under ``name``. Callables may be given as ``"module:name"`` so that worker
    processes import them by name. ``decimals``: report precision;
    ``caption``: the report's note under Table 2 (a default is built from the
    label and direction); ``legend``: ``srbench run``'s summary legend line.
    """

    name: str
    kind: str
    direction: str
    label: str
    needs: tuple[str, ...] = ()
    compute: str | Callable | None = None
    prepare: str | Callable | None = None
    record: str | Callable | None = None
    decimals: int = 2
    caption: str = ""
    legend: str = ""

    @property
    def columns(self) -> tuple[str, ...]:
        """The CSV columns this metric adds (no-reference: value and note; full-reference: its own)."""
        return (self.name,) if self.kind == FULL_REFERENCE_KIND else (self.name, f"{self.name}_note")

    @property
    def arrow(self) -> str:
        return "↓" if self.direction == "lower" else "↑"

    def prepared(self, option=None):
        fn = _resolve(self.prepare)
        return fn(option) if fn else None

    def measure(self, sr, state) -> tuple[float | None, str]:
        return _resolve(self.compute)(sr, state)

    def run_record(self, state) -> dict | None:
        fn = _resolve(self.record)
        return fn(state) if fn else None

    def table_caption(self) -> str:
        if self.caption:
            return self.caption
        better = "lower" if self.direction == "lower" else "higher"
        return (f"{self.label} (ours; the paper has no {self.label}, so no paper value or difference): "
                f"no-reference, mean over the set's images, {better} = better; measured for HR too; "
                f"bold = best of ours (HR and authors' images excluded).")

    def summary_legend(self) -> str:
        if self.legend:
            return self.legend
        return (f"({self.label}: no-reference, {self.direction} = better; n/a: see summary.csv "
                f"{self.name}_note)")


_METRICS: dict[str, Metric] = {}
_plugins_loaded = False


def register_metric(metric: Metric) -> Metric:
    """Add ``metric`` to the registry (a name taken already is an error); return it."""
    if not metric.name or metric.name != metric.name.strip().lower() or not metric.name.isidentifier():
        raise SrbenchError(f"a metric name must be a lower-case identifier, got {metric.name!r}")
    if metric.name in ("all", "protocol", "n", "n_expected", "dataset", "image", "method"):
        raise SrbenchError(f"{metric.name!r} cannot name a metric (it names a column or a selection)")
    if metric.kind not in (FULL_REFERENCE_KIND, NO_REFERENCE_KIND):
        raise SrbenchError(f"metric {metric.name}: kind must be {FULL_REFERENCE_KIND} or {NO_REFERENCE_KIND}")
    if metric.direction not in ("lower", "higher"):
        raise SrbenchError(f"metric {metric.name}: direction must be 'lower' or 'higher' (is better)")
    if metric.kind == NO_REFERENCE_KIND and metric.compute is None:
        raise SrbenchError(f"metric {metric.name}: a no-reference metric needs compute")
    if metric.name in _METRICS and _METRICS[metric.name] != metric:
        raise SrbenchError(f"a metric called {metric.name!r} is registered already")
    _METRICS[metric.name] = metric
    return metric


def _load_plugins() -> None:
    """Plugins register metrics on import: the method plugins (``$SRBENCH_PLUGINS``, entry points) and
    the entry points of :data:`ENTRY_POINT_GROUP`, once."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from importlib.metadata import entry_points

    from srbench.run import registry as method_registry

    method_registry.ensure_loaded()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:  # noqa: BLE001
            raise SrbenchError(f"cannot load the {ENTRY_POINT_GROUP} entry point {ep.name} = {ep.value}: "
                               f"{type(exc).__name__}: {exc}") from exc


def all_metrics() -> tuple[Metric, ...]:
    """Every registered metric: the full-reference ones first, then the no-reference ones in registration order."""
    _load_plugins()
    ordered = sorted(_METRICS.values(), key=lambda m: m.kind != FULL_REFERENCE_KIND)
    return tuple(ordered)


def get_metric(name: str) -> Metric:
    """The metric called ``name``; :class:`SrbenchError` naming the registered ones otherwise."""
    found = _METRICS.get(name)
    if found is None:
        _load_plugins()
        found = _METRICS.get(name)
    if found is None:
        raise SrbenchError(f"unknown metric {name!r}; choose from {', '.join(m.name for m in all_metrics())}")
    return found


def no_reference_names(columns) -> list[str]:
    """The no-reference metrics whose column pair ``NAME,NAME_note`` is among ``columns``, in column order."""
    cols = list(columns)
    return [c for c in cols if f"{c}_note" in cols]


register_metric(Metric("psnr", FULL_REFERENCE_KIND, "higher", "PSNR", needs=("hr",), decimals=2))
register_metric(Metric("ssim", FULL_REFERENCE_KIND, "higher", "SSIM", needs=("hr",), decimals=4))
register_metric(Metric(
    "niqe", NO_REFERENCE_KIND, "lower", "NIQE", needs=("model",),
    compute="srbench.metrics.niqe_metric:compute", prepare="srbench.metrics.niqe_metric:prepare",
    record="srbench.metrics.niqe_metric:record", decimals=2,
    caption=("NIQE (ours; the paper has no NIQE, so no paper value or difference): no-reference quality "
             "(Mittal et al. 2013, the authors' pristine model, gray luma, no border crop), mean over the set's "
             "images, lower = more natural; measured for HR too; bold = lowest of ours (HR and authors' images "
             "excluded)."),
    legend="(NIQE: no-reference, lower = more natural; gray luma, no crop; n/a: see summary.csv niqe_note)",
))
