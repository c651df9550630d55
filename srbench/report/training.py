"""How far a checkpoint-backed row was trained, against its paper's recipe (the tables' row footnotes).

The counts come from the checkpoint sidecar that ``srbench run`` recorded in
``run.json`` (``iterations``, ``patches_seen``, ``hyper.batch``,
``hyper.patch``, ``complete``); the recipes below are what the original
papers (or the authors' released training code) state. A sidecar without
counts gives "unknown training length"; a checkpoint marked incomplete, or
trained for less than its recipe, is labelled under-trained, never a
finished reproduction.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    """What the original work trained: ``iterations`` updates of ``batch`` samples (None: not stated)."""

    iterations: int | None
    batch: int | None
    samples: str  # what one sample is, e.g. "96x96 HR crops"
    source: str  # where the numbers are stated
    note: str = ""  # anything else needed to read the comparison

    @property
    def samples_total(self) -> int | None:
        return self.iterations * self.batch if self.iterations and self.batch else None


_SRGAN_PAPER = "the SRGAN paper (Ledig et al. 2017, sec. 3.2)"
_SRRESNET = Recipe(1_000_000, 16, "96x96 HR crops", _SRGAN_PAPER)
_SRGAN = Recipe(200_000, 16, "96x96 HR crops", _SRGAN_PAPER,
                "10^5 iterations at lr 10^-4 then 10^5 at 10^-5, starting from the trained SRResNet")
RECIPES: dict[str, Recipe] = {
    "srresnet-mse": _SRRESNET,
    "srresnet-vgg22": _SRRESNET,
    "srgan-mse": _SRGAN,
    "srgan-vgg22": _SRGAN,
    "srgan-vgg54": _SRGAN,
    "srcnn": Recipe(15_000_000, 128, "33x33 sub-images (21x21 labels)",
                    "the SRCNN authors' released training code (Dong et al. 2014/2016; Caffe solver max_iter, "
                    "batch 128)"),
    "espcn": Recipe(None, None, "17r x 17r HR sub-images",
                    "the ESPCN paper (Shi et al. 2016, sec. 3.2)",
                    "it gives no iteration count: training stopped after 100 epochs without improvement "
                    "(about 3 hours on a K2 GPU with the 91 images, 7 days with ImageNet images, 3x)"),
}


def _n(x: int) -> str:
    return f"{x:,}"


def _power(x: int) -> str:
    """1000000 -> "10^6", 200000 -> "2x10^5", 1920000000 -> "1.92x10^9" (exact for these round numbers)."""
    exponent = len(str(x)) - 1
    mantissa = x / 10 ** exponent
    text = f"{mantissa:.3g}"
    return f"10^{exponent}" if text == "1" else f"{text}x10^{exponent}"


def _percent(part: int, whole: int) -> str:
    share = 100 * part / whole
    return f"{share:.2g}%" if share < 10 else f"{share:.0f}%"


def training_note(method: str, sidecar: dict | None, *, shown_as: str | None = None) -> str:
    """The footnote of a row measured from the checkpoint described by ``sidecar`` (``None``: not recorded).

    ``method`` picks the recipe compared with; ``shown_as`` (default ``method``) names the checkpoint.
    """
    label = f"{shown_as or method} checkpoint"
    if not isinstance(sidecar, dict):
        return f"{label}: unknown training length (the run recorded no checkpoint sidecar); not a finished reproduction"
    digest = sidecar.get("checkpoint_sha256")
    if digest:
        label += f" (sha256 {str(digest)[:12]})"
    iterations, patches = sidecar.get("iterations"), sidecar.get("patches_seen")
    hyper = sidecar.get("hyper") if isinstance(sidecar.get("hyper"), dict) else {}
    batch, patch = hyper.get("batch"), hyper.get("patch")
    if not isinstance(iterations, int) or not isinstance(patches, int):
        return (f"{label}: unknown training length (its sidecar records no iteration and patch counts); "
                "not presented as a finished reproduction")
    text = f"{label}: trained {_n(iterations)} iterations"
    if isinstance(batch, int):
        text += f" at batch {batch}"
    text += f", {_n(patches)} patches" + (f" of {patch}x{patch} HR px" if isinstance(patch, int) else "")
    recipe = RECIPES.get(method)
    short = True
    if recipe is None:
        text += "; the original recipe is not known to srbench"
    elif recipe.samples_total is None:
        text += f"; {recipe.source}: {recipe.note}"
    else:
        text += (f"; {recipe.source}: {_power(recipe.iterations)} iterations at batch {recipe.batch} = "
                 f"{_power(recipe.samples_total)} {recipe.samples}"
                 + (f" ({recipe.note})" if recipe.note else "")
                 + f"; this is {_percent(iterations, recipe.iterations)} of its iterations and "
                   f"{_percent(patches, recipe.samples_total)} of its samples")
        short = iterations < recipe.iterations or patches < recipe.samples_total
    complete = sidecar.get("complete")
    if complete is not True:
        text += (". Marked incomplete in its sidecar: an under-trained checkpoint, not a finished reproduction"
                 if complete is False else
                 ". Its sidecar does not say whether training finished: not presented as a finished reproduction")
    elif short:
        text += ". Shorter than the original recipe: an under-trained checkpoint, not a finished reproduction"
    else:
        text += ". Trained to at least the original recipe's length"
    return text
