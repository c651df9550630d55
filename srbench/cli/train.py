"""``srbench train``: train one of the trainable methods (over :mod:`srbench.methods.training.trainer`)."""

from __future__ import annotations

import argparse
import os
import sys

from srbench.cli.arguments import whole_number
from srbench.errors import SrbenchError

EPILOG = """\
examples:
  srbench train --method srresnet-mse --train-data DATA/t91,DATA/bsd200 --iters 1000000 --out results/runs/srresnet
  srbench train --method srresnet-mse --train-data DATA/t91 --fast --budget-minutes 7 --out results/runs/fast
  srbench train --method srresnet-mse --train-data DATA/t91 --fast --iters 300000 --budget-minutes 8 --out results/runs/a
  srbench train --method srresnet-mse --train-data DATA/t91 --resume results/runs/a --budget-minutes 8
  srbench train --method srgan-vgg54 --train-data DATA/t91 --vgg-weights vgg19-dcbb9e9d.pth --out results/runs/gan
  torchrun --nproc_per_node 4 -m srbench train --method srresnet-mse --train-data DATA/t91 --fast --iters 50000 --out results/runs/ddp

DATA is the training-image folder (../shared/datasets/train beside a clone).
The default --out, results/checkpoints/METHOD, holds the committed checkpoints
of srresnet-mse, srcnn and espcn, so a new run of those needs another --out.

Without --fast the paper's recipe is used: 96x96 HR crops, batch 16, Adam
(beta1 0.9), lr 1e-4; SRGAN variants start from results/checkpoints/srresnet-mse
and drop the lr 10x halfway. --fast: batch 256 and lr 6e-4 (3e-4 * sqrt(batch/64))
with a 200-step warm-up and cosine decay; GANs batch 64 and the paper's
1e-4 -> 1e-5 halfway; bf16 autocast on CUDA with the output conv padded to 8
channels (--tail), evaluation in fp32; channels_last, fused Adam; all recorded
in the checkpoint sidecar.

Schedules: --iters N is the run's planned total; the learning-rate schedule
is laid out over it when the run starts and stored with the run. --budget-minutes
M only stops this invocation (a segment; SIGTERM/Ctrl-C too): checkpoint, then
--resume continues the same schedule, so segments add up to one uninterrupted
run. A --fast run given only --budget-minutes plans its total from its own
speed (measured over a few warm-up steps) to fit the budget. --resume DIR
writes back into DIR; once a run has reached its planned total, --iters N (a
larger total) or --budget-minutes M (fast mode) continues it with a new
phase, which may take a new --batch/--lr.

Checkpoints: OUT/model.safetensors + OUT/model.json, resume state
OUT/resume.{safetensors,json} (not with --no-resume-state), logs OUT/train.log
and OUT/metrics.jsonl. Under torchrun, --batch is per process and rank 0
writes everything.
"""


def add_parser(subparsers) -> None:
    from srbench.methods.training.options import COMPILE_MODES, TAIL_MODES

    p = subparsers.add_parser(
        "train",
        help="train SRResNet / SRGAN (and other registered trainable methods)",
        description="Train a super-resolution network and write a checkpoint with its provenance.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--method", required=True, help="trainable method name (e.g. srresnet-mse, srgan-vgg54)")
    p.add_argument("--train-data", required=True, metavar="DIR[,DIR...]",
                   help="folder(s) of PNG/JPEG/WebP training images, searched recursively")
    p.add_argument("--iters", type=whole_number(1), metavar="N",
                   help="the run's planned total of iterations (default: the paper's, e.g. 1e6 for SRResNet; "
                        "--fast with only --budget-minutes: planned from the measured speed)")
    p.add_argument("--budget-minutes", type=float, metavar="M",
                   help="stop this invocation after M minutes of wall-clock time (checkpointed, resumable)")
    p.add_argument("--batch", type=whole_number(1), help="patches per step (per process); default 16, --fast 256")
    p.add_argument("--lr", type=float, help="(peak) learning rate; default 1e-4, --fast 3e-4 * sqrt(batch/64)")
    p.add_argument("--patch", type=whole_number(1), metavar="PX", help="HR crop side in pixels (default 96)")
    p.add_argument("--init", metavar="CKPT", help="start from these generator weights (folder or .safetensors)")
    p.add_argument("--resume", metavar="CKPT", help="continue the run whose checkpoint folder is CKPT")
    p.add_argument("--out", metavar="DIR",
                   help="output folder (default: the --resume folder, else results/checkpoints/METHOD)")
    p.add_argument("--device", choices=("cuda", "cpu", "auto"), default="auto", help="default: cuda if available")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--val-data", metavar="DIR[,DIR...]",
                   help="validation set folder(s) with HR/ and LR_bicubic_x4/ (default $SRBENCH_DATA/set5; "
                        "'none' to skip); each is evaluated in fp32 at every validation")
    p.add_argument("--val-every", type=int, default=1000, metavar="N", help="validate every N iterations (0: only at the end)")
    p.add_argument("--ckpt-every", type=int, default=1000, metavar="N", help="checkpoint every N iterations (0: only at the end)")
    p.add_argument("--log-every", type=int, default=50, metavar="N", help=argparse.SUPPRESS)
    p.add_argument("--fast", action="store_true", default=None, help="fast mode (see below)")
    p.add_argument("--compile", nargs="?", const="default", choices=COMPILE_MODES, metavar="MODE",
                   help="torch.compile the training step (slow start); MODE: " + ", ".join(COMPILE_MODES)
                        + " (default: default)")
    p.add_argument("--tail", choices=TAIL_MODES,
                   help="--fast on CUDA: the output conv in bf16 with its 3 output channels zero-padded to 8 "
                        "(pad8, the default), in plain bf16, or in fp32 (see bench/train_throughput.py)")
    p.add_argument("--no-resume-state", action="store_true",
                   help="write no resume.* files (the run cannot be continued; an SRGAN lease's discriminator "
                        "is too large to bring back)")
    p.add_argument("--vgg-weights", metavar="PATH", help="torchvision vgg19-dcbb9e9d.pth for the VGG losses")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    # Tiny networks for smoke tests; recorded in the sidecar.
    p.add_argument("--blocks", type=int, help=argparse.SUPPRESS)
    p.add_argument("--channels", type=int, help=argparse.SUPPRESS)
    p.add_argument("--stop-after", type=whole_number(1), help=argparse.SUPPRESS)  # as if interrupted after N its
    p.add_argument("--warmup", type=int, help=argparse.SUPPRESS)  # warm-up steps of a new cosine phase
    p.add_argument("--sync-every", type=whole_number(1), help=argparse.SUPPRESS)
    p.add_argument("--probe-steps", type=whole_number(1), help=argparse.SUPPRESS)  # speed probe length (smoke tests)
    p.set_defaults(func=_run)


def config_from_args(args: argparse.Namespace):
    """The :class:`~srbench.methods.training.config.TrainConfig` that ``srbench train ARGS`` trains with."""
    from srbench.methods.training.config import TrainConfig

    return TrainConfig(
        method=args.method,
        train_data=[d for d in args.train_data.split(",") if d],
        iters=args.iters,
        budget_minutes=args.budget_minutes,
        batch=args.batch,
        lr=args.lr,
        patch=args.patch,
        init=args.init,
        resume=args.resume,
        out=args.out,
        device=args.device,
        seed=args.seed,
        val_data=args.val_data,
        val_every=args.val_every,
        ckpt_every=args.ckpt_every,
        log_every=args.log_every,
        fast=args.fast,
        compile=args.compile,
        vgg_weights=args.vgg_weights,
        blocks=args.blocks,
        channels=args.channels,
        stop_after=args.stop_after,
        tail=args.tail,
        warmup=args.warmup,
        sync_every=args.sync_every,
        probe_steps=args.probe_steps,
        resume_state=not args.no_resume_state,
        progress=not args.no_progress,
    )


def _run(args: argparse.Namespace) -> int:
    from srbench.methods.training.trainer import RANDOM_VGG_ENV, train

    if os.environ.get(RANDOM_VGG_ENV):
        raise SrbenchError(
            f"${RANDOM_VGG_ENV} is set: random VGG19 weights exist for tests only and are refused by "
            "'srbench train'; unset it and give real weights with --vgg-weights"
        )
    cfg = config_from_args(args)
    result = train(cfg)
    val = result.validation
    planned = result.horizon if result.horizon is not None else "?"
    line = (f"{cfg.method}: {result.stop_reason} at iteration {result.iterations} of {planned} planned "
            f"({result.patches_seen} patches); checkpoint {result.out}")
    if val:
        line += f"; {val['dataset']} PSNR {val['psnr']:.2f} dB ({val['protocol']})"
    if int(os.environ.get("RANK", "0")) == 0:
        print(line)
    if result.stop_reason == "interrupted":
        print(f"resume with: srbench train --method {cfg.method} --resume {result.out} ...", file=sys.stderr)
        return 130
    return 0
