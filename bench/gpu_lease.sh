#!/usr/bin/env bash
# One GPU lease (~9 minutes) in one command: throughput benchmark, then fast SRResNet-MSE training.
#
#   here, before the lease:   bash bench/gpu_lease.sh prepare
#       copies the training images (t91, bsd200, bsds500_test: 491 images, 37 MB) and Set5
#       into .carry/ (git-ignored), to be named in the device call's `carry`.
#   on the lease:             bash bench/gpu_lease.sh          (device run: carry [".carry"], timeout_s 600)
#       1. bench/train_throughput.py          -> $OUT/throughput.json   (~1.5 min: 7 variants incl. one
#          torch.compile of the batch-256 step, ~40 s of it compilation)
#       2. srbench train --method srresnet-mse --fast --budget-minutes $BUDGET_MINUTES (default 7),
#          validating on Set5 (paper protocol) every 2000 iterations and at the end;
#          resumes results/checkpoints/srresnet-mse if it holds a fast-mode run with a resume state (else
#          starts from its weights with --init if they are the paper's size, else from scratch)
#          -> $OUT/model.safetensors, model.json,
#          resume.safetensors, resume.json, train.log, metrics.jsonl (written as they appear)
#       everything printed goes to $OUT/lease.log too. That is 8 files, the most a lease returns.
#   smoke test on the CPU:    GPU_LEASE_SMOKE=1 OUT=/tmp/x bash bench/gpu_lease.sh
#       tiny network, 32 px crops, a few seconds of training, data from $SRBENCH_TRAIN_DATA / $SRBENCH_DATA
#       when .carry/ is absent.
# Environment: OUT (default results/runs/gpu_lease), CARRY (.carry), RESUME_FROM
# (results/checkpoints/srresnet-mse), BUDGET_MINUTES (7), GPU_LEASE_SMOKE (0), LEASE_SECONDS (580:
# the whole script's time; the training budget shrinks if the benchmark ran long, so the trainer
# always stops by itself - and writes its checkpoint - before the device call's 600 s limit).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=.
CARRY=${CARRY:-.carry}
SHARED=$(cd .. && pwd)/shared/datasets

if [ "${1:-}" = "prepare" ]; then
    set -e
    mkdir -p "$CARRY/train" "$CARRY/benchmark"
    for d in t91 bsd200 bsds500_test; do
        rm -rf "$CARRY/train/$d" && cp -r "$SHARED/train/$d" "$CARRY/train/$d"
    done
    rm -rf "$CARRY/benchmark/set5" && cp -r "$SHARED/benchmark/set5" "$CARRY/benchmark/set5"
    du -sh "$CARRY"
    exit 0
fi

OUT=${OUT:-results/runs/gpu_lease}
RESUME_FROM=${RESUME_FROM:-results/checkpoints/srresnet-mse}
SMOKE=${GPU_LEASE_SMOKE:-0}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/lease.log") 2>&1
TEE_PID=$!

if [ -d "$CARRY/train/t91" ]; then
    TRAIN="$CARRY/train/t91,$CARRY/train/bsd200,$CARRY/train/bsds500_test"
    VAL="$CARRY/benchmark/set5"
else
    TRAIN="${SRBENCH_TRAIN_DATA:-$SHARED/train}/t91"
    VAL="${SRBENCH_DATA:-$SHARED/benchmark}/set5"
fi

if [ "$SMOKE" = "1" ]; then
    BUDGET_MINUTES=${BUDGET_MINUTES:-0.05}
    BENCH=(--cpu-smoke --only baseline,fast-b64)
    TINY=(--device cpu --blocks 1 --channels 8 --patch 32 --batch 4 --val-every 20 --ckpt-every 20 --log-every 5)
else
    BUDGET_MINUTES=${BUDGET_MINUTES:-7}
    BENCH=(--seconds 3 --compile
           --only baseline,fast-b64,fast-b256-fp32tail,fast-b256-pad8tail,compiled-b256,srgan-baseline,srgan-fast)
    TINY=(--val-every 2000 --ckpt-every 2000 --log-every 100)
fi

echo "== $(date -u +%FT%TZ) lease on $(hostname): OUT=$OUT budget ${BUDGET_MINUTES} min, smoke=$SMOKE"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

echo "== throughput benchmark"
timeout 150 python bench/train_throughput.py --train-data "$TRAIN" --out "$OUT/throughput.json" "${BENCH[@]}" \
    || echo "throughput benchmark failed or timed out (status $?); training anyway"

# How to start. A resumed run keeps its own settings, so only a fast-mode run of this network size is
# resumed (a paper-mode run would train at batch 16 without bf16 here); a checkpoint of the same size
# otherwise seeds a new fast run (--init); anything else (another size, unreadable) is not used.
read -r -a START < <(python - "$RESUME_FROM" "$SMOKE" <<'PY'
import json, sys
from pathlib import Path

folder, smoke = Path(sys.argv[1]), sys.argv[2] == "1"
size = {"num_blocks": 1, "channels": 8} if smoke else "default"
start, why = ["--fast"], f"no checkpoint in {folder}: new run"
if (folder / "model.safetensors").is_file():
    try:
        side = json.loads((folder / "model.json").read_text())
    except (OSError, ValueError) as exc:
        side, why = {}, f"{folder}/model.json unreadable ({exc}): new run"
    if side and side.get("method") == "srresnet-mse" and side.get("architecture") == size:
        if (folder / "resume.json").is_file() and (side.get("hyper") or {}).get("fast"):
            start, why = ["--resume", str(folder)], f"resuming the fast run in {folder}"
        else:
            start, why = ["--fast", "--init", str(folder)], f"{folder} is not a resumable fast run: new run from its weights"
    elif side:
        why = f"{folder} holds a {side.get('method')} of size {side.get('architecture')}, not {size}: new run"
print(" ".join(start))
print(why, file=sys.stderr)
PY
)
[ ${#START[@]} -gt 0 ] || START=(--fast)  # the check itself failed: a new fast run, never a paper-mode one
echo "== training srresnet-mse ${START[*]}"
# SIGTERM after budget + 2 min at the latest: the trainer then writes its checkpoint and stops.
# Budget: at most BUDGET_MINUTES, and at most what is left of LEASE_SECONDS minus 75 s for start-up
# (imports, decoding the images) and the end (final Set5 validation, checkpoint). The guard sends SIGTERM
# (the trainer then checkpoints and stops) 15 s before LEASE_SECONDS.
LEASE_SECONDS=${LEASE_SECONDS:-580}
read -r BUDGET GUARD < <(python -c "
left = $LEASE_SECONDS - $SECONDS
print(round(max(0.05, min(float('$BUDGET_MINUTES'), (left - 75) / 60)), 2), max(30, left - 15))")
echo "budget $BUDGET min (guard ${GUARD}s)"
timeout "$GUARD" python -m srbench train --method srresnet-mse --train-data "$TRAIN" --val-data "$VAL" \
    --budget-minutes "$BUDGET" --out "$OUT" --no-progress "${START[@]}" "${TINY[@]}"
status=$?
echo "== $(date -u +%FT%TZ) training finished with status $status"
ls -la "$OUT"
exec >&- 2>&-  # let tee write the last lines of lease.log before the device call collects $OUT
wait "$TEE_PID" 2>/dev/null
exit $status
