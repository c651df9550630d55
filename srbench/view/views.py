"""The importable API behind ``srbench view``: produce missing runs, find the committed ones, check them."""

from __future__ import annotations

from pathlib import Path

from srbench.paths import RESULTS_DIR
from srbench.view.images import regeneration_problem
from srbench.view.runs import Collection, open_runs


def committed_runs(results: Path = RESULTS_DIR) -> list[Path]:
    """Every committed run folder: ``results/metrics/*/`` holding a ``per_image.csv``."""
    return sorted(p.parent for p in (results / "metrics").glob("*/per_image.csv"))


def produce(methods: str, datasets: str, *, data_root: Path, out: str | None = None,
            published_root: str | None = None) -> Path:
    """Run ``methods`` on ``datasets`` (comma-separated) saving their images, with a progress bar; the run folder."""
    from srbench.data.releases import method_settings
    from srbench.run.runner import parse_list, run_benchmark

    names = parse_list(methods)
    result = run_benchmark(names, parse_list(datasets), data_root=data_root, out_dir=out, save_images=True,
                           method_settings=method_settings(names, published_root, str(data_root)))
    return result.out_dir


def check(runs: list[str | Path], *, protocol: str = "paper", regenerate: bool = False,
          settings: dict | None = None) -> Collection:
    """Open and check ``runs`` as the page will (saved images against their checksums; see :func:`open_runs`)."""
    return open_runs(runs, protocol=protocol, regenerate=regenerate,
                     can_regenerate=lambda column: regeneration_problem(column, settings))
