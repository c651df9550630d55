"""Training throughput (patches/s) of the real trainer step for every --fast candidate, beside a plain baseline
measured in the same run, with a per-part profile of each step and the choice of the fastest candidate.

Every variant runs the trainer's own code: :class:`srbench.methods.training.data.PatchSampler`
(device-resident images, random crops + flips, MATLAB-bicubic LR) and
:class:`srbench.methods.training.step.StepRunner` (forward, losses, backward, Adam), so
the numbers include the data pipeline. Timing: warm-up steps (and compile
time, reported separately as ``warmup_s``), then whole steps for at least
``--seconds``, bracketed by ``torch.cuda.synchronize()``.

Then a *profile*: a few more steps with the device synchronised after each
part (data, forward with the loss, backward, optimizer; SRGAN: forward,
discriminator step, generator loss, backward, optimizer), reported as ms and
as shares of the profiled step; ``data_share`` is the data part against the
unsynchronised step time (the target: < 5 %).

Variants (96 px HR crops, the paper's 16-block 64-channel SRResNet on CUDA):

* ``baseline``: eager, bf16 autocast, batch 64, output conv in fp32, NCHW,
  ``cudnn.benchmark`` off - the plain step of ``../shared/reference/gpu.md``;
* ``fast-b64``: the old ``--fast`` default (channels_last, ``cudnn.benchmark``,
  TF32, fused Adam, fp32 output conv, batch 64);
* ``eager-b256-{fp32,bf16,pad8}``: batch 256 with the output conv in fp32,
  bf16, or bf16 padded to 8 channels (``pad8``: the ``--fast`` default now);
* ``eager-b512-pad8``: batch 512 (for reference; not a candidate);
* ``compiled-b256-pad8[-cudagraphs|-max-autotune]``: ``torch.compile`` of the
  whole forward + loss (AOT backward; Inductor fuses BatchNorm, PReLU and the
  residual adds), modes ``default``, ``reduce-overhead`` (CUDA graphs) and
  ``max-autotune`` (autotuned kernels + CUDA graphs); only with ``--compile``,
  measured last (the slowest to start);
* ``srgan-baseline``, ``srgan-fast-b64-pad8``, ``srgan-fast-b256-pad8``,
  ``srgan-compiled-b64-pad8``: one SRGAN-MSE step (G, D on real and fake, G
  through the frozen D), the GAN of issue 12; ``srgan-vgg54-*``: the same
  with VGG19 features to conv5_4 (random weights: values do not change the
  speed, nothing trained here is kept).

*Candidates* (``candidate: true``) are the PSNR-neutral ways to run the
``--fast`` recipe (same batch, same learning rate; they differ only in bf16
rounding of the output layer and in kernel fusion): the fastest one that ran
is reported as ``choice`` per network, with the ``srbench train`` flags that
select it; ``bench/gpu_lease.sh`` trains with those.

Sets (``--set``): ``all`` (default), ``lease-srresnet`` and ``lease-srgan``
(the <= 90 s subsets the lease runs), ``smoke``. ``--only`` picks names.
A variant that fails (a compile error, out of memory) is recorded with its
``error`` and the others still run; ``--deadline-s`` skips variants that would
start after that many seconds.

``--cpu-smoke`` runs the chosen set with a tiny network (1 block, 8 channels,
32 px crops, batch 4) on the CPU, two steps per variant, to test this script
anywhere; ``--device cpu`` (or no GPU) times the full-size network on the CPU
(no autocast there). Results: a table on stdout and JSON (``--out``).

    PYTHONPATH=. python bench/train_throughput.py --train-data DIR --compile --out OUT/throughput.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from srbench.methods.checkpoint import device_name  # noqa: E402
from srbench.methods.specs import TRAIN_SPECS, build_network  # noqa: E402
from srbench.methods.training.config import fast_lr  # noqa: E402
from srbench.methods.training.data import PatchSampler, list_training_files  # noqa: E402
from srbench.methods.training.step import StepRunner, make_adam  # noqa: E402


@dataclass
class Variant:
    name: str
    method: str = "srresnet-mse"
    batch: int = 64
    channels_last: bool = False
    cudnn_benchmark: bool = False
    tail: str = "fp32"
    compile: str | None = None
    fused_adam: bool = False
    candidate: bool = False
    notes: str = ""
    result: dict = field(default_factory=dict)

    @property
    def network(self) -> str:
        return "srgan" if TRAIN_SPECS[self.method].adversarial else "srresnet"


FAST = dict(channels_last=True, cudnn_benchmark=True, fused_adam=True)  # what --fast does on CUDA


def all_variants() -> list[Variant]:
    """Every variant, eager ones first, compiled ones last (the slowest to start)."""
    return [
        Variant("baseline", notes="eager bf16, batch 64, NCHW, fp32 tail, cudnn.benchmark off"),
        Variant("fast-b64", notes="the old --fast default", **FAST),
        Variant("eager-b256-fp32tail", batch=256, **FAST),
        Variant("eager-b256-bf16tail", batch=256, tail="bf16", **FAST),
        Variant("eager-b256-pad8", batch=256, tail="pad8", candidate=True, notes="the --fast default", **FAST),
        Variant("eager-b512-pad8", batch=512, tail="pad8", notes="reference: a larger batch", **FAST),
        Variant("srgan-baseline", method="srgan-mse", notes="G + D, eager bf16, batch 64, NCHW, fp32 tail"),
        Variant("srgan-fast-b64-pad8", method="srgan-mse", tail="pad8", candidate=True,
                notes="the --fast GAN default", **FAST),
        Variant("srgan-fast-b256-pad8", method="srgan-mse", batch=256, tail="pad8", notes="reference", **FAST),
        Variant("srgan-vgg54-baseline", method="srgan-vgg54", notes="G + D + VGG54 (random VGG), eager bf16"),
        Variant("srgan-vgg54-fast", method="srgan-vgg54", tail="pad8", **FAST),
        Variant("compiled-b256-pad8", batch=256, tail="pad8", compile="default", candidate=True, **FAST),
        Variant("compiled-b256-pad8-cudagraphs", batch=256, tail="pad8", compile="reduce-overhead", candidate=True,
                **FAST),
        Variant("compiled-b256-pad8-max-autotune", batch=256, tail="pad8", compile="max-autotune", candidate=True,
                **FAST),
        Variant("srgan-compiled-b64-pad8", method="srgan-mse", tail="pad8", compile="default", candidate=True, **FAST),
    ]


SETS = {
    "lease-srresnet": ["baseline", "eager-b256-pad8", "compiled-b256-pad8"],
    "lease-srgan": ["srgan-baseline", "srgan-fast-b64-pad8", "srgan-compiled-b64-pad8"],
    "smoke": ["baseline", "fast-b64", "eager-b256-pad8", "srgan-baseline", "srgan-fast-b64-pad8",
              "compiled-b256-pad8"],
}


def select(set_name: str, only: str | None, compile: bool) -> list[Variant]:
    variants = all_variants()
    if set_name != "all":
        keep = set(SETS[set_name])
        variants = [v for v in variants if v.name in keep]
    if only:
        keep = set(only.split(","))
        variants = [v for v in variants if v.name in keep]
    return [v for v in variants if compile or v.compile is None]


class PartTimer:
    """Profiling hook for :meth:`StepRunner.step`: synchronise, then note the time of each finished part."""

    def __init__(self, sync) -> None:
        self.sync = sync
        self.totals: dict[str, float] = {}
        self.t = 0.0

    def start(self) -> None:
        self.sync()
        self.t = time.perf_counter()

    def __call__(self, part: str) -> None:
        self.sync()
        now = time.perf_counter()
        self.totals[part] = self.totals.get(part, 0.0) + now - self.t
        self.t = now


def measure(v: Variant, sampler: PatchSampler, device: torch.device, *, arch: dict, seconds: float,
            warmup: int, min_steps: int, profile_steps: int) -> dict:
    """Run ``v``: patches/s, ms/step, steps, warm-up (compile) seconds, and the per-part profile."""
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
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
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
    timer = PartTimer(sync)
    for _ in range(profile_steps):
        timer.start()
        batch = sampler.sample(v.batch)
        timer("data")
        runner.step(*batch, mark=timer)
    del runner, g, d, g_opt, d_opt
    if device.type == "cuda":
        torch.cuda.empty_cache()
    ms_per_step = 1000 * elapsed / steps
    parts = {k: 1000 * s / max(profile_steps, 1) for k, s in timer.totals.items()}
    total = sum(parts.values()) or 1.0
    return {"patches_per_s": steps * v.batch / elapsed, "ms_per_step": ms_per_step, "steps": steps,
            "warmup_s": round(warm_s, 2), "loss_finite": finite,
            "profile_ms": {k: round(x, 3) for k, x in parts.items()},
            "profile_share": {k: round(x / total, 4) for k, x in parts.items()},
            "data_share": round(parts.get("data", 0.0) / ms_per_step, 4)}


def choose(variants: list[Variant]) -> dict:
    """Per network, the fastest candidate that ran, with the ``srbench train`` flags that select it."""
    choice = {}
    for network in ("srresnet", "srgan"):
        ran = [v for v in variants if v.network == network and v.candidate and v.result.get("loss_finite")]
        if not ran:
            continue
        best = max(ran, key=lambda v: v.result["patches_per_s"])
        flags = ["--batch", str(best.batch), "--tail", best.tail]
        if network == "srresnet":
            flags += ["--lr", f"{fast_lr(TRAIN_SPECS[best.method], best.batch):.6g}"]
        if best.compile:
            flags += ["--compile", best.compile]
        choice[network] = {"variant": best.name, "patches_per_s": best.result["patches_per_s"], "flags": flags}
    return choice


def default_train_data() -> list[str]:
    for root in (os.environ.get("SRBENCH_TRAIN_DATA"), ".carry/train", str(Path(__file__).resolve().parents[2] / "shared/datasets/train")):
        if root and (Path(root) / "t91").is_dir():
            return [str(Path(root) / "t91")]
    raise SystemExit("no training images found: pass --train-data DIR")


def _write(report: dict, path: str | None) -> None:
    if path:  # atomically, after every variant: a timeout keeps what was measured
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(json.dumps(report, indent=1) + "\n")
        os.replace(tmp, out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="examples:\n"
                                        "  python bench/train_throughput.py --compile --out tp.json\n"
                                        "  python bench/train_throughput.py --set lease-srresnet --compile --deadline-s 80\n"
                                        "  python bench/train_throughput.py --cpu-smoke --set smoke")
    ap.add_argument("--train-data", help="folder(s) of training images, comma-separated (default: t91)")
    ap.add_argument("--cpu-smoke", action="store_true", help="tiny network on the CPU (tests this script)")
    ap.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                    help="auto: CUDA if available; cpu without --cpu-smoke times the full-size network (slow)")
    ap.add_argument("--compile", action="store_true", help="also time the torch.compile variants (slow to start)")
    ap.add_argument("--set", default="all", choices=("all", *SETS), help="which variants (default: all)")
    ap.add_argument("--only", help="comma-separated variant names to run (within --set)")
    ap.add_argument("--seconds", type=float, default=4.0, help="timed seconds per variant (CUDA)")
    ap.add_argument("--deadline-s", type=float, help="start no variant after this many seconds")
    ap.add_argument("--patch", type=int, help="HR crop side in pixels (default 96; 32 with --cpu-smoke)")
    ap.add_argument("--batch", type=int, help="one batch size for every variant (default: each variant's; "
                                                "4 with --cpu-smoke), e.g. to profile the full network on the CPU")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    smoke = args.cpu_smoke
    on_cuda = not smoke and args.device != "cpu" and torch.cuda.is_available()
    device = torch.device("cuda" if on_cuda else "cpu")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    arch = {"num_blocks": 1, "channels": 8} if smoke else {}
    patch = args.patch or (32 if smoke else 96)
    dirs = args.train_data.split(",") if args.train_data else default_train_data()
    sampler = PatchSampler.from_files(list_training_files(dirs), hr_patch=patch, device=device, seed=0)
    chosen = select(args.set, args.only, args.compile)
    report = {
        "device": device_name(device), "torch": torch.__version__,
        "mode": "cpu-smoke" if smoke else device.type, "cpu_threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()), "hr_patch": patch,
        "architecture": arch or "paper (16 blocks, 64 channels)", "train_images": sampler.num_images,
        "set": args.set, "variants": [], "choice": {},
    }
    print(f"{'variant':<32} {'batch':>5} {'patches/s':>10} {'ms/step':>8} {'vs base':>7} {'data':>6}  profile (share)")
    base: dict[str, float] = {}
    for v in chosen:
        if args.batch or smoke:
            v.batch = args.batch or 4
        if args.deadline_s is not None and time.perf_counter() - t_start > args.deadline_s:
            r = {"skipped": f"deadline of {args.deadline_s:g} s passed"}
        else:
            try:
                r = measure(v, sampler, device, arch=arch, seconds=args.seconds if on_cuda else 0.0,
                            warmup=(3 if v.compile else 10) if on_cuda else 1, min_steps=20 if on_cuda else 2,
                            profile_steps=10 if on_cuda else 2)
            except Exception as exc:  # one failing variant (a compile error, out of memory) must not lose the others
                r = {"error": f"{type(exc).__name__}: {exc}"[:1000]}
                if device.type == "cuda":
                    torch.cuda.empty_cache()
        if "patches_per_s" in r:
            base.setdefault(v.network, r["patches_per_s"])
            r["speedup_vs_baseline"] = r["patches_per_s"] / base[v.network]
        v.result = r
        report["variants"].append({k: val for k, val in asdict(v).items() if k != "result"} | r)
        report["choice"] = choose(chosen)
        _write(report, args.out)
        if "patches_per_s" in r:
            shares = " ".join(f"{k} {x:.0%}" for k, x in r["profile_share"].items())
            print(f"{v.name:<32} {v.batch:>5} {r['patches_per_s']:>10.0f} {r['ms_per_step']:>8.1f} "
                  f"{r['speedup_vs_baseline']:>6.2f}x {r['data_share']:>6.1%}  {shares}"
                  + (f"  [warm-up/compile {r['warmup_s']:.0f} s]" if v.compile else ""), flush=True)
        else:
            why = r.get("error") or r.get("skipped")
            print(f"{v.name:<32} {v.batch:>5} {'FAILED' if 'error' in r else 'SKIPPED'}: {why.splitlines()[0][:200]}",
                  flush=True)
    for network, c in report["choice"].items():
        print(f"choice for {network}: {c['variant']} ({c['patches_per_s']:.0f} patches/s): {' '.join(c['flags'])}")
    print(f"benchmark took {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
