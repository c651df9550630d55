"""Figures 2 and 6 of the paper re-created: the same zoomed region of chosen test images for every method.

For each crop (default: Set14 baboon and comic, Set5 head) one row of
panels: the whole HR image with the region outlined, then the region in
bicubic, srbench's own SRResNet/SRGAN models (Table 1's learned rows: every one
with results in the runs, so a newly trained SRGAN-MSE appears by itself),
the SRGAN authors' released SRResNet-MSE and SRGAN-VGG54 images and the HR
image. Each panel is labelled with the image's whole-image PSNR [dB] / SSIM
under the report's protocol in brackets, as in the paper.

The numbers are the runs' per-image rows (what the tables average), and each
panel's image is regenerated here and measured again: a panel is drawn only
when the regenerated image reproduces its per-image row (within
:data:`TOLERANCE`), and a learned model only from the checkpoint whose SHA-256
the run recorded. So a panel always shows the image that was measured. What
is left out, and why, is listed in ``report.md``. The plotted data (crop boxes,
values, sources) are written as CSV so that tests check data, not pixels.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from srbench.run import registry
from srbench.errors import SrbenchError
from srbench.schema import HR_METHOD

TOLERANCE = 1e-4  # dB for PSNR, absolute for SSIM: as the metrics regression test
ZOOM_PX = 96  # the side of a crop in HR pixels (a multiple of 4: whole LR pixels)
THUMBNAIL_PX = 160  # longest side of the whole-image overview, pixels


@dataclass(frozen=True)
class Crop:
    """A region of one test image, in HR pixels: top-left ``(x, y)``, ``size`` x ``size``."""

    dataset: str
    image: str
    x: int
    y: int
    size: int = ZOOM_PX


DEFAULT_CROPS = (
    Crop("set14", "baboon.png", 332, 292),  # whiskers over fur: where SRGAN's texture shows (paper Figure 6)
    Crop("set14", "comic.png", 72, 80),  # the headdress fringe and the eye (paper Figure 2's image)
    Crop("set5", "head.png", 120, 124),  # the eye and the freckled skin
)


@dataclass(frozen=True)
class Panel:
    """One drawn panel: a method's image of a crop's test image, and its per-image values."""

    method: str  # registry key, or "hr"
    label: str
    source: str  # where the pixels come from
    psnr: float | None = None
    ssim: float | None = None
    pixels: object = field(default=None, repr=False, compare=False)  # uint8 (H, W, 3) whole image


@dataclass
class Figure:
    """What :func:`collect` found: per crop its panels, and the methods left out with the reason."""

    protocol: str
    crops: list[tuple[Crop, object, list[Panel]]]  # (crop, HR pixels, panels)
    omitted: list[str]
    images_found: bool = True  # False: no benchmark images at all, so nothing could be regenerated


def candidate_methods() -> list[tuple[str, str]]:
    """``(key, label)`` of the methods the figure can show, in order: bicubic, srbench's Table 1 models,
    the published (authors') images. From the registry's metadata, so new models join by themselves."""
    out = [("bicubic", "bicubic")]
    for info in registry.list_methods():
        if info.kind == "learned" and any(r.table == 1 for r in info.paper_rows):
            out.append((info.name, f"{info.paper_rows[0].row if info.paper_rows else info.label} (ours)"))
    for info in registry.list_methods(families=True):
        if info.family and info.kind == "published":
            for member, rows in info.members.items():
                row = next((r.row for r in rows if r.table == 1), member)
                out.append((f"{info.name}:{member}", f"{row} (authors' images)"))
    return out


def _row(per_image: pd.DataFrame, crop: Crop, key: str) -> pd.Series | None:
    hit = per_image[(per_image["dataset"] == crop.dataset) & (per_image["image"] == crop.image)
                    & (per_image["method"] == key)]
    return hit.iloc[0] if len(hit) else None


def regenerating_method(key: str, checkpoints: dict[str, dict], settings: dict) -> tuple[object | None, str]:
    """The method to regenerate ``key``'s images, and a source line; (None, reason) when it cannot be used."""
    info = registry.method_info(key)
    try:
        method = registry.get_method(key, **registry.settings_for(key, settings))
    except SrbenchError as exc:
        return None, str(exc)
    reason = method.availability()
    if reason:
        return None, reason
    if info.needs_checkpoint:
        recorded = (checkpoints.get(key) or {}).get("checkpoint_sha256")
        if not recorded:
            return None, "the run recorded no checkpoint SHA-256 for it"
        current = (method.checkpoint_info() or {})
        if current.get("checkpoint_sha256") != recorded:
            return None, (f"{current.get('checkpoint', 'its checkpoint')} is not the checkpoint the run measured "
                          f"(sha256 {recorded[:12]})")
        return method, f"{current.get('checkpoint', 'checkpoint')} (sha256 {recorded[:12]})"
    if info.kind == "published":
        source = method.source_info() or {}
        return method, f"release {source.get('release')} (SHA-256 checked)"
    return method, "computed (MATLAB bicubic)"


def collect(per_image: pd.DataFrame, protocol: str, data_root: Path | None, *, checkpoints: dict[str, dict],
            settings: dict, crops: tuple[Crop, ...] = DEFAULT_CROPS) -> Figure:
    """Regenerate and check every panel (see the module docstring). ``per_image``: rows of ``protocol`` only."""
    from srbench.data.sets import load_dataset
    from srbench.metrics import evaluate

    omitted: list[str] = []
    if data_root is None or not Path(data_root).is_dir():
        return Figure(protocol, [], [f"the benchmark images were not found (data root {data_root}); "
                                     "fetch them with 'srbench datasets fetch'"], images_found=False)
    sets = {}
    out = []
    methods: dict[str, tuple[object | None, str]] = {}
    for key, label in candidate_methods():
        if not any(_row(per_image, c, key) is not None for c in crops):
            omitted.append(f"{label}: no per-image results in the given runs")
            continue
        methods[key] = regenerating_method(key, checkpoints, settings)
        if methods[key][0] is None:
            omitted.append(f"{label}: {methods[key][1]}")
    labels = dict(candidate_methods())
    for crop in crops:
        if crop.dataset not in sets:
            sets[crop.dataset] = {im.name: im for im in load_dataset(crop.dataset, data_root)}
        image = sets[crop.dataset][crop.image]
        panels = []
        for key, (method, source) in methods.items():
            row = _row(per_image, crop, key)
            if method is None or row is None:
                continue
            sr = method.upscale(image.lr, dataset=crop.dataset, name=crop.image)
            psnr, ssim = evaluate(sr, image.hr, protocol=protocol, is_gray=image.is_gray)
            if abs(psnr - row["psnr"]) > TOLERANCE or abs(ssim - row["ssim"]) > TOLERANCE:
                omitted.append(f"{labels[key]} on {crop.dataset}/{crop.image}: the image regenerated here measures "
                               f"{psnr:.4f} dB / {ssim:.4f}, the run's row {row['psnr']:.4f} dB / {row['ssim']:.4f}")
                continue
            panels.append(Panel(key, labels[key], source, float(row["psnr"]), float(row["ssim"]), sr))
        if panels:
            panels.append(Panel(HR_METHOD, "original HR", "benchmark HR file (SHA-256 checked)", None, None,
                                image.hr))
            out.append((crop, image.hr, panels))
    return Figure(protocol, out, omitted)


def to_csv(figure: Figure) -> str:
    """One row per panel: crop box (HR px), method, label, whole-image PSNR/SSIM, protocol, source."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["dataset", "image", "x", "y", "width", "height", "panel", "method", "label", "protocol",
                "psnr", "ssim", "source"])
    for crop, _, panels in figure.crops:
        for i, p in enumerate(panels):
            w.writerow([crop.dataset, crop.image, crop.x, crop.y, crop.size, crop.size, i, p.method, p.label,
                        figure.protocol, "" if p.psnr is None else f"{p.psnr:.6f}",
                        "" if p.ssim is None else f"{p.ssim:.6f}", p.source])
    return buf.getvalue()


def panel_title(panel: Panel) -> str:
    """``"SRGAN-VGG54\\n(authors' images)\\n(26.02dB/0.7397)"``: the label, then the paper's bracket style
    ``(PSNR dB/SSIM)``; HR has no numbers."""
    label = panel.label.replace(" (", "\n(")
    if panel.psnr is None:
        return label
    return f"{label}\n({panel.psnr:.2f}dB/{panel.ssim:.4f})"


def _shrink(pixels, step: int):
    """``pixels`` reduced ``step`` times by box averaging (PIL's ``reduce``; deterministic)."""
    if step == 1:
        return pixels
    import numpy as np
    from PIL import Image

    return np.asarray(Image.fromarray(pixels).reduce(step))


def draw(figure: Figure, png: Path, pdf: Path, *, title_note: str = "") -> None:
    """Draw the figure into ``png`` and ``pdf`` (overwritten); metadata that would vary is removed."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    columns = 1 + max(len(panels) for _, _, panels in figure.crops)
    rows = len(figure.crops)
    with matplotlib.rc_context({"svg.hashsalt": "srbench", "pdf.fonttype": 42, "font.size": 6}):
        height = 2.1 * rows + 0.45
        fig, axes = plt.subplots(rows, columns, figsize=(1.55 * columns, height), dpi=100, squeeze=False)
        for r, (crop, hr, panels) in enumerate(figure.crops):
            ax = axes[r][0]
            step = max(1, -(-max(hr.shape[:2]) // THUMBNAIL_PX))  # keep the files small: a subsampled overview
            ax.imshow(_shrink(hr, step), interpolation="nearest")
            ax.add_patch(plt.Rectangle((crop.x / step - 0.5, crop.y / step - 0.5), crop.size / step,
                                       crop.size / step, fill=False, edgecolor="red", linewidth=1.0))
            ax.set_title(f"{crop.dataset}/{crop.image}\nregion x={crop.x}, y={crop.y}, {crop.size}px", fontsize=7)
            for c, panel in enumerate(panels, start=1):
                axes[r][c].imshow(panel.pixels[crop.y:crop.y + crop.size, crop.x:crop.x + crop.size],
                                  interpolation="nearest")
                axes[r][c].set_title(panel_title(panel), fontsize=7)
            for ax in axes[r]:
                ax.set_xticks([])
                ax.set_yticks([])
            for ax in axes[r][len(panels) + 1:]:
                ax.axis("off")
        fig.suptitle(f"Figures 2/6 re-created (4x): bicubic, srbench's models, the SRGAN authors' released "
                     f"images, HR{title_note}\nwhole-image PSNR/SSIM (protocol {figure.protocol}) in brackets",
                     fontsize=8)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / height), h_pad=1.2)
        fig.savefig(png, format="png", metadata={"Software": None})
        fig.savefig(pdf, format="pdf", metadata={"Creator": None, "Producer": None, "CreationDate": None})
        plt.close(fig)
