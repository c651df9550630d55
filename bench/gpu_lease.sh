#!/usr/bin/env bash
# One GPU lease in one command: a <= 90 s throughput benchmark, then training with the fastest PSNR-neutral
# --fast configuration it found, validating on Set5 and Set14 (paper protocol, fp32), everything written to
# $OUT as it appears.
#
#   here, before the lease:   bash bench/gpu_lease.sh prepare
#       copies t91, bsd200, bsds500_test (490 usable training images; CARRY_TRAIN="t91 bsd200" to carry
#       fewer) and Set5, Set14 into .carry/ (git-ignored) and prints what travels (project files + .carry);
#       fails if that reaches 64 MiB (2026-11-30: 19.6 + 40.8 = 60.4 MiB; a committed srgan-mse checkpoint
#       adds 6 MiB: then carry fewer training folders).
#
#   issue 11 (SRResNet):      bash bench/gpu_lease.sh srresnet
#       device call: run(command="bash bench/gpu_lease.sh srresnet", carry=[".carry"], timeout_s=600)
#       1. bench/train_throughput.py --set lease-srresnet --compile (baseline b64, eager b256 pad8,
#          compiled b256 pad8; <= 90 s)                                  -> $OUT/throughput.json
#       2. copies results/checkpoints/srresnet-mse into $OUT and resumes it there (--resume $OUT writes
#          back into $OUT): a run whose plan is finished (the seed checkpoint: its history is a legacy
#          phase) continues with a NEW phase planned to fit the rest of the lease (batch, lr, tail and
#          compile from the benchmark's choice); a run interrupted inside a phase finishes that phase
#          first (same schedule), then, if >= 2 minutes are left, a second invocation plans a new phase.
#          -> $OUT/model.safetensors, model.json, resume.safetensors, resume.json, train.log, metrics.jsonl
#       3. Set5 and Set14 are validated every 3000 iterations and at the end (in the sidecar and logs).
#       8 files in all with $OUT/lease.log (everything printed). Copy them back into
#       results/checkpoints/srresnet-mse/ to commit the result (the logs hold the whole history).
#
#   issue 12 (SRGAN-MSE):     bash bench/gpu_lease.sh srgan
#       device call: run(command="bash bench/gpu_lease.sh srgan", carry=[".carry"], timeout_s=600)
#       1. bench/train_throughput.py --set lease-srgan --compile (<= 90 s)  -> $OUT/throughput.json
#       2. srbench train --method srgan-mse --fast --init results/checkpoints/srresnet-mse, the whole run
#          planned to fit the lease (the paper's 1e-4 then 1e-5 halves, scaled), --no-resume-state: the
#          discriminator (23.6 M parameters, 90 MiB in fp32, 270 MiB with Adam) cannot come back (16 MiB
#          per file), so only the generator is written, and its sidecar says so.
#          -> $OUT/model.safetensors, model.json, train.log, metrics.jsonl (+ throughput.json, lease.log)
#
#   CPU smoke test:           GPU_LEASE_SMOKE=1 OUT=/tmp/x bash bench/gpu_lease.sh srresnet|srgan
#       tiny network (1 block, 8 channels), 32 px crops, batch 4, a few seconds; data from
#       $SRBENCH_TRAIN_DATA / $SRBENCH_DATA when .carry/ is absent (tests/test_gpu_lease.py runs both).
#
# Environment: OUT (default results/runs/gpu_lease), CARRY (.carry), RESUME_FROM / INIT_FROM
# (results/checkpoints/srresnet-mse), LEASE_SECONDS (585: the whole script; keep it below the device call's
# timeout_s, and below what `status` says is left), BUDGET_MINUTES (a cap on training), LEASE_COMPILE (1),
# PYTHON (python), GPU_LEASE_SMOKE (0).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=.
PYTHON=${PYTHON:-python}
CARRY=${CARRY:-.carry}
SHARED=$(cd .. && pwd)/shared/datasets
TRAVEL_LIMIT=$((64 * 1024 * 1024))

if [ "${1:-}" = "prepare" ]; then
    set -e
    rm -rf "$CARRY/train" && mkdir -p "$CARRY/train" "$CARRY/benchmark"
    for d in ${CARRY_TRAIN:-t91 bsd200 bsds500_test}; do
        cp -r "$SHARED/train/$d" "$CARRY/train/$d"
    done
    for d in set5 set14; do
        rm -rf "$CARRY/benchmark/$d" && cp -r "$SHARED/benchmark/$d" "$CARRY/benchmark/$d"
    done
    git ls-files -z --cached --others --exclude-standard | "${PYTHON}" -c '
import os, sys
from pathlib import Path
limit, carry = int(sys.argv[1]), Path(sys.argv[2])
tree = sum(os.path.getsize(p) for p in sys.stdin.buffer.read().decode().split("\0") if p and os.path.isfile(p))
kept = sum(p.stat().st_size for p in carry.rglob("*") if p.is_file())
mib = 1 << 20
print(f"travel: project files {tree / mib:.1f} MiB + {carry} {kept / mib:.1f} MiB = {(tree + kept) / mib:.1f} MiB "
      f"(limit {limit / mib:.0f} MiB)")
sys.exit(0 if tree + kept < limit else "travel reaches the limit: do not start the lease")' "$TRAVEL_LIMIT" "$CARRY"
    exit 0
fi

MODE=${1:-srresnet}
case "$MODE" in srresnet|srgan) ;; *) echo "usage: bash bench/gpu_lease.sh [prepare|srresnet|srgan]"; exit 2;; esac
OUT=${OUT:-results/runs/gpu_lease}
SMOKE=${GPU_LEASE_SMOKE:-0}
LEASE_SECONDS=${LEASE_SECONDS:-585}
FROM=${RESUME_FROM:-${INIT_FROM:-results/checkpoints/srresnet-mse}}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/lease.log") 2>&1
TEE_PID=$!

if [ -d "$CARRY/train" ]; then
    TRAIN=$(ls -d "$CARRY"/train/*/ | sed 's:/$::' | paste -sd,)
    VAL="$CARRY/benchmark/set5,$CARRY/benchmark/set14"
else
    TRAIN="${SRBENCH_TRAIN_DATA:-$SHARED/train}/t91"
    VAL="${SRBENCH_DATA:-$SHARED/benchmark}/set5,${SRBENCH_DATA:-$SHARED/benchmark}/set14"
fi
COMPILE=${LEASE_COMPILE:-1}
if [ "$SMOKE" = "1" ]; then
    BENCH=(--cpu-smoke --set "lease-$MODE" --deadline-s 60)
    RUN=(--device cpu --blocks 1 --channels 8 --patch 32 --warmup 20 --probe-steps 6 --val-every 40 --ckpt-every 40
         --log-every 10)
    # a tiny GAN step takes ~0.5 s on the CPU: enough budget for its speed probe (8 steps) and a few more
    BUDGET_MINUTES=${BUDGET_MINUTES:-$([ "$MODE" = srgan ] && echo 0.25 || echo 0.1)}
    END_RESERVE=10; START_RESERVE=5
else
    BENCH=(--set "lease-$MODE" --seconds 3 --deadline-s 60)
    RUN=(--log-every 100)
    BUDGET_MINUTES=${BUDGET_MINUTES:-9}
    END_RESERVE=30; START_RESERVE=35  # end: final Set5+Set14 validation, checkpoint; start: imports, decoding
fi
[ "$COMPILE" = "1" ] && BENCH+=(--compile)

echo "== $(date -u +%FT%TZ) lease ($MODE) on $(hostname): OUT=$OUT, ${LEASE_SECONDS}s, smoke=$SMOKE"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

echo "== throughput benchmark (<= 90 s)"
timeout -k 5 90 "$PYTHON" bench/train_throughput.py --train-data "$TRAIN" --out "$OUT/throughput.json" "${BENCH[@]}" \
    || echo "throughput benchmark failed or timed out (status $?); training with the --fast defaults"

# The configuration to train with: the benchmark's choice for this network, else the --fast defaults.
NET=$([ "$MODE" = srgan ] && echo srgan || echo srresnet)
read -r -a CHOICE < <("$PYTHON" - "$OUT/throughput.json" "$NET" <<'PY'
import json, sys
try:
    print(" ".join(json.load(open(sys.argv[1]))["choice"][sys.argv[2]]["flags"]))
except (OSError, ValueError, KeyError) as exc:
    print(f"no benchmark choice ({type(exc).__name__}): --fast defaults", file=sys.stderr)
    print("")
PY
)
echo "configuration: ${CHOICE[*]:-(--fast defaults)}"

left() { echo $((LEASE_SECONDS - SECONDS)); }
train_once() {  # args: extra srbench train flags. Budget from what is left; SIGTERM guard before the end.
    local left_s budget guard
    left_s=$(left)
    budget=$("$PYTHON" -c "print(round(max(0.05, min(float('$BUDGET_MINUTES'), ($left_s - $START_RESERVE - $END_RESERVE) / 60)), 2))")
    guard=$((left_s - 8 > 20 ? left_s - 8 : 20))
    echo "== $(date -u +%FT%TZ) srbench train $* (budget $budget min, SIGTERM guard ${guard}s)"
    timeout -k 6 "$guard" "$PYTHON" -m srbench train --train-data "$TRAIN" --val-data "$VAL" --out "$OUT" \
        --budget-minutes "$budget" --no-progress "${RUN[@]}" "$@"
}

status=0
if [ "$MODE" = srresnet ]; then
    # Resume the committed run in $OUT (so the new segment appends to its logs), or start one.
    read -r -a START < <("$PYTHON" - "$FROM" "$OUT" "$SMOKE" <<'PY'
import json, shutil, sys
from pathlib import Path

src, out, smoke = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
size = {"num_blocks": 1, "channels": 8} if smoke else "default"
files = ("model.safetensors", "model.json", "resume.safetensors", "resume.json", "train.log", "metrics.jsonl")

def sidecar(folder):
    try:
        side = json.loads((folder / "model.json").read_text())
    except (OSError, ValueError):
        return None
    same = side.get("method") == "srresnet-mse" and side.get("architecture") == size
    return side if same and (folder / "model.safetensors").is_file() else None

def resumable(side, folder):  # a paper-mode run would resume at batch 16 in fp32: seed a fast run instead
    return side is not None and (side.get("hyper") or {}).get("fast") and (folder / "resume.json").is_file()

if (out / "model.safetensors").is_file():  # a second invocation in the same lease
    side = sidecar(out)
    why = f"continuing the run already in {out}"
elif resumable(side := sidecar(src), src):
    for name in files:
        if (src / name).is_file():
            shutil.copy2(src / name, out / name)
    why = f"resuming the run of {src} (copied into {out})"
elif side is not None:
    print("--fast --init", src)
    print(f"{src} is not a resumable fast run: a new --fast run from its weights", file=sys.stderr)
    sys.exit(0)
else:
    why = f"{src} holds no srresnet-mse checkpoint of size {size}"
if side is None:
    print("--fast")
    print(f"{why}: a new --fast run", file=sys.stderr)
else:
    done, planned = side.get("iterations", 0), side.get("planned_iterations")
    new_phase = planned is None or done >= planned
    print("--resume", out, "--new-phase" if new_phase else "--same-phase")
    print(f"{why} at iteration {done}" + (f" (plan to {planned} finished: a new phase)" if new_phase
          else f" (inside its plan, which ends at {planned})"), file=sys.stderr)
PY
    )
    [ ${#START[@]} -gt 0 ] || START=(--fast)
    # --batch/--lr may change only where a new phase starts; --tail/--compile may always change.
    SPEED_FLAGS=()
    for ((i = 0; i < ${#CHOICE[@]}; i += 2)); do
        case "${CHOICE[i]}" in --tail|--compile) SPEED_FLAGS+=("${CHOICE[i]}" "${CHOICE[i+1]}");; esac
    done
    SAME_PHASE=0
    case "${START[-1]}" in
        --new-phase) unset 'START[-1]'; FLAGS=("${START[@]}" "${CHOICE[@]}");;
        --same-phase) unset 'START[-1]'; FLAGS=("${START[@]}" "${SPEED_FLAGS[@]}"); SAME_PHASE=1;;
        *) FLAGS=("${START[@]}" "${CHOICE[@]}");;
    esac
    [ "$SMOKE" = "1" ] || RUN+=(--val-every 3000 --ckpt-every 3000)
    train_once --method srresnet-mse "${FLAGS[@]}"
    status=$?
    if [ "$status" = 0 ] && [ "$SAME_PHASE" = 1 ] && [ "$(left)" -ge $((120 + START_RESERVE + END_RESERVE)) ]; then
        echo "== the resumed phase is finished and time is left: a new phase"
        train_once --method srresnet-mse --resume "$OUT" "${CHOICE[@]}"
        status=$?
    fi
else
    [ "$SMOKE" = "1" ] || RUN+=(--val-every 2000 --ckpt-every 2000)
    train_once --method srgan-mse --fast --init "$FROM" --no-resume-state "${CHOICE[@]}"
    status=$?
fi

echo "== $(date -u +%FT%TZ) training finished with status $status after ${SECONDS}s"
"$PYTHON" - "$OUT" <<'PY'
import json, sys
from pathlib import Path

side = json.loads((Path(sys.argv[1]) / "model.json").read_text())
sets = ", ".join(f"{k} {v['psnr']:.3f} dB / {v['ssim']:.4f}" for k, v in (side.get("validation_sets") or {}).items())
seg = side["segments"][-1]
rate = seg["patches"] / max(seg["wall_time_s"], 1e-9)
planned = side.get("planned_iterations") or "? (stopped before its speed probe planned it)"
print(f"result: {side['method']} at iteration {side['iterations']} of {planned} planned, "
      f"{side['patches_seen']} patches; {sets} (paper protocol); last segment {rate:.0f} patches/s incl. validation")
PY
ls -la "$OUT"
exec >&- 2>&-  # let tee write the last lines of lease.log before the device call collects $OUT
wait "$TEE_PID" 2>/dev/null
exit $status
