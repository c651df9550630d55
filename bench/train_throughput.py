"""Training throughput (patches/s) of the real trainer step, next to a plain baseline measured in the same run.

Every variant runs the trainer's own code: :class:`srbench.methods.train_data.PatchSampler`
(device-resident images, random crops + flips, MATLAB-bicubic LR) and
:class:`srbench.methods.train_step.StepRunner` (forward, losses, backward, Adam), so
the numbers include the data pipeline. Timing: warm-up steps (and compile
time, reported separately), then whole steps for at least ``--seconds``,
bracketed by ``torch.cuda.synchronize()``.

On CUDA (96x96 HR crops, the paper's 16-block 64-channel SRResNet):

* ``baseline``: eager, bf16 autocast, batch 64, output conv in fp32, NCHW,
  ``cudnn.benchmark`` off - the plain step of ``../shared/reference/gpu.md``;
* ``fast-b64`` .. ``fast-b256-*``: channels_last + ``cudnn.benchmark`` + TF32
  + fused Adam (what ``--fast`` does), batch 64 / 256, output conv ``fp32`` /
  ``bf16`` / ``pad8`` (3 output channels zero-padded to 8 so tensor cores apply);
* ``srgan-baseline`` / ``srgan-fast``: one SRGAN-VGG54 step (G + D + VGG19 to
  conv5_4) at batch 64. VGG weights are random here: values do not change
  the speed, and nothing trained here is kept;
* ``compiled-b256``: ``torch.compile`` of ``fast-b256-fp32tail`` (only with
  ``--compile``; about 40 s of compilation), measured last.

A variant that fails (a compile error, out of memory) is recorded with its
``error`` and the others still run.

``--cpu-smoke`` runs the same variants with a tiny network (1 block, 8
channels, 32 px crops, batch 4) on the CPU, to test this script anywhere;
``--device cpu`` (or no GPU) times the full-size network on the CPU (no
autocast there), two steps per variant.
Results: a table on stdout and JSON (``--out``).

    PYTHONPATH=. python bench/train_throughput.py --train-data DIR --out OUT/throughput.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from srbench.methods.checkpoint import device_name  # noqa: E402
from srbench.methods.specs import TRAIN_SPECS  # noqa: E402
from srbench.methods.specs import build_network  # noqa: E402
from srbench.methods.train_data import PatchSampler, list_training_files  # noqa: E402
from srbench.methods.train_step import StepRunner, make_adam  # noqa: E402


@dataclass
class Variant:
    name: str
    method: str = "srresnet-mse"
    batch: int = 64
    channels_last: bool = False
    cudnn_benchmark: bool = False
    tail: str = "fp32"
    compile: bool = False
    fused_adam: bool = False
    notes: str = ""
    result: dict = field(default_factory=dict)


FAST = dict(channels_last=True, cudnn_benchmark=True, fused_adam=True)  # what --fast does on CUDA


def variants(compile: bool) -> list[Variant]:
    v = [
        Variant("baseline", notes="eager bf16, batch 64, NCHW, fp32 tail, cudnn.benchmark off"),
        Variant("fast-b64", notes="srbench train --fast default", **FAST),
        Variant("fast-b64-pad8tail", tail="pad8", **FAST),
        Variant("fast-b256-fp32tail", batch=256, **FAST),
        Variant("fast-b256-bf16tail", batch=256, tail="bf16", **FAST),
        Variant("fast-b256-pad8tail", batch=256, tail="pad8", **FAST),
        Variant("srgan-baseline", method="srgan-vgg54", notes="G + D + VGG54, eager bf16, batch 64"),
        Variant("srgan-fast", method="srgan-vgg54", **FAST),
    ]
    if compile:  # last: the slowest to start, so a time limit cuts it rather than the eager variants
        v.append(Variant("compiled-b256", batch=256, compile=True, **FAST))
    return v


def measure(v: Variant, sampler: PatchSampler, device: torch.device, *, arch: dict, seconds: float,
            warmup: int, min_steps: int) -> dict:
    """Run ``v`` and return its timing: patches/s, ms/step, steps, compile/warm-up seconds."""
    from srbench.methods.discriminator import Discriminator
    from srbench.methods.losses import build_content_loss

    spec = TRAIN_SPECS[v.method]
    torch.backends.cudnn.benchmark = v.cudnn_benchmark
    torch.manual_seed(0)
    g = build_network(spec, arch).to(device)
    fused = v.fused_adam and device.type == "cuda"
    g_opt = make_adam(g.parameters(), lr=1e-4, betas=(0.9, 0.999), fused=fused)
    d = d_opt = None
    if spec.adversarial:
        d = Discriminator(sampler.hr_patch).to(device)
        d_opt = make_adam(d.parameters(), lr=1e-4, betas=(0.9, 0.999), fused=fused)
    loss = build_content_loss(spec.content_loss, allow_random_weights_for_tests=True).to(device)
    runner = StepRunner(
        spec, g, g_opt, loss, device=device, discriminator=d, d_opt=d_opt,
        amp_dtype=torch.bfloat16 if device.type == "cuda" else None, tail=v.tail,
        channels_last=v.channels_last, compile=v.compile,
    )
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    t = time.perf_counter()
    for _ in range(warmup):
        runner.step(*sampler.sample(v.batch))
    sync()
    warm_s = time.perf_counter() - t
    steps, t = 0, time.perf_counter()
    while steps < min_steps or time.perf_counter() - t < seconds:
        out = runner.step(*sampler.sample(v.batch))
        steps += 1
        if steps % 10 == 0:
            sync()
    sync()
    elapsed = time.perf_counter() - t
    finite = bool(torch.isfinite(out["loss"]).item())
    del runner, g, d, g_opt, d_opt
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return {"patches_per_s": steps * v.batch / elapsed, "ms_per_step": 1000 * elapsed / steps, "steps": steps,
            "warmup_s": round(warm_s, 2), "loss_finite": finite}


def default_train_data() -> list[str]:
    for root in (os.environ.get("SRBENCH_TRAIN_DATA"), ".carry/train", str(Path(__file__).resolve().parents[2] / "shared/datasets/train")):
        if root and (Path(root) / "t91").is_dir():
            return [str(Path(root) / "t91")]
    raise SystemExit("no training images found: pass --train-data DIR")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train-data", help="folder(s) of training images, comma-separated (default: t91)")
    ap.add_argument("--cpu-smoke", action="store_true", help="tiny network on the CPU (tests this script)")
    ap.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                    help="auto: CUDA if available; cpu without --cpu-smoke times the full-size network (slow)")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (about 40 s to compile)")
    ap.add_argument("--seconds", type=float, default=4.0, help="timed seconds per variant (CUDA)")
    ap.add_argument("--only", help="comma-separated variant names to run")
    ap.add_argument("--patch", type=int, help="HR crop side in pixels (default 96; 32 with --cpu-smoke)")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args(argv)

    smoke = args.cpu_smoke
    on_cuda = not smoke and args.device != "cpu" and torch.cuda.is_available()
    device = torch.device("cuda" if on_cuda else "cpu")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    arch = {"num_blocks": 1, "channels": 8} if smoke else {}
    patch = args.patch or (32 if smoke else 96)
    dirs = args.train_data.split(",") if args.train_data else default_train_data()
    files = list_training_files(dirs)
    sampler = PatchSampler.from_files(files, hr_patch=patch, device=device, seed=0)
    chosen = variants(args.compile and on_cuda)
    if args.only:
        keep = set(args.only.split(","))
        chosen = [v for v in chosen if v.name in keep]
    report = {
        "device": device_name(device), "torch": torch.__version__,
        "mode": "cpu-smoke" if smoke else device.type, "cpu_threads": torch.get_num_threads(),
        "hr_patch": patch, "architecture": arch or "paper (16 blocks, 64 channels)",
        "train_images": sampler.num_images, "variants": [],
    }
    print(f"{'variant':<22} {'batch':>5} {'patches/s':>10} {'ms/step':>8} {'vs baseline':>11}  notes")
    base = {}
    for v in chosen:
        if smoke:
            v.batch = 4
        try:
            r = measure(v, sampler, device, arch=arch, seconds=args.seconds if on_cuda else 0.0,
                        warmup=(3 if v.compile else 10) if on_cuda else 1, min_steps=20 if on_cuda else 2)
        except Exception as exc:  # one failing variant (a compile error, out of memory) must not lose the others
            r = {"error": f"{type(exc).__name__}: {exc}"[:1000]}
            if device.type == "cuda":
                torch.cuda.empty_cache()
        key = "srgan" if v.method != "srresnet-mse" else "srresnet"
        if "error" not in r:
            base.setdefault(key, r["patches_per_s"])
            r["speedup_vs_baseline"] = r["patches_per_s"] / base[key]
        v.result = r
        report["variants"].append({k: getattr(v, k) for k in ("name", "method", "batch", "channels_last",
                                   "cudnn_benchmark", "tail", "compile", "fused_adam", "notes")} | r)
        if "error" in r:
            print(f"{v.name:<22} {v.batch:>5} FAILED: {r['error'].splitlines()[0][:200]}", flush=True)
        else:
            print(f"{v.name:<22} {v.batch:>5} {r['patches_per_s']:>10.0f} {r['ms_per_step']:>8.1f} "
                  f"{r['speedup_vs_baseline']:>10.2f}x  {v.notes}", flush=True)
        if args.out:  # written (atomically) after every variant: a timeout keeps what was measured
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(f".{out.name}.tmp")
            tmp.write_text(json.dumps(report, indent=1) + "\n")
            os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
