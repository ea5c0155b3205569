#!/usr/bin/env bash
# Data-parallel training on one machine (issue 17): the demo's tagger (configs/emoji-i2v-tag.json,
# global batch 32) trained by one process with every core, and by `mpirun -np R` ranks with
# cores/R threads and batch 32/R each, for the same steps on the same data. Prints each run's
# training speed, rank 0's share of time spent waiting in collectives, and the best validation
# mAP, so that both the scaling and "the same model" can be read off one table.
#
#   bench/distributed_scaling.sh [I2V_BINARY] [RANKS] [MAX_STEPS]
#     I2V_BINARY  default build/apps/i2v
#     RANKS       default 2
#     MAX_STEPS   default 0: the whole config (16 epochs, ~4 min per run on 2 idle cores)
# The runs go to demo-out/runs/scaling-*; the demo's data is made first if it is not there.
set -euo pipefail
cd "$(dirname "$0")/.."

i2v=$(realpath "${1:-build/apps/i2v}")
ranks=${2:-2}
max_steps=${3:-0}
cores=$(nproc)
batch=32
((batch % ranks == 0)) || { echo "distributed_scaling: $ranks ranks do not divide the batch of $batch" >&2; exit 2; }
((cores >= ranks)) || echo "distributed_scaling: warning: $ranks ranks on $cores cores share cores" >&2

scripts/emoji_dump.sh "$i2v" demo-out > /dev/null
common=(--config configs/emoji-i2v-tag.json --set max_steps="$max_steps" log_every_steps=20)

rm -rf demo-out/runs/scaling-1 demo-out/runs/scaling-"$ranks"
echo "one process, $cores threads, batch $batch"
OMP_NUM_THREADS=$cores OMP_WAIT_POLICY=passive "$i2v" train "${common[@]}" --run demo-out/runs/scaling-1 > /dev/null
echo "$ranks ranks, $((cores / ranks > 0 ? cores / ranks : 1)) threads each, batch $((batch / ranks)) each"
mpirun -np "$ranks" --oversubscribe --allow-run-as-root --bind-to none \
  -x OMP_NUM_THREADS=$((cores / ranks > 0 ? cores / ranks : 1)) -x OMP_WAIT_POLICY=passive \
  "$i2v" train "${common[@]}" --set data.batch_size=$((batch / ranks)) --run demo-out/runs/scaling-"$ranks" > /dev/null

# The median speed and wait share over the train lines after the first (warm-up, caches), and
# the best validation mAP.
/usr/bin/python3 - "$ranks" <<'PY'
import json, statistics, sys
ranks = int(sys.argv[1])
print(f"| run | steps | images/s (median) | wait share (median) | best validation mAP |")
print(f"|---|---|---|---|---|")
for name, label in (("scaling-1", "1 process"), (f"scaling-{ranks}", f"{ranks} ranks")):
    lines = [json.loads(l) for l in open(f"demo-out/runs/{name}/metrics.jsonl")]
    train = [l for l in lines if l["kind"] == "train"][1:]
    val = [l["mAP"] for l in lines if l["kind"] == "validation"]
    speed = statistics.median(l["images_per_second"] for l in train)
    wait = statistics.median(l["wait_share"] for l in train) if "wait_share" in train[0] else None
    steps = train[-1]["step"]
    print(f"| {label} | {steps} | {speed:.0f} | {'-' if wait is None else f'{wait:.3f}'} | "
          f"{max(val) if val else float('nan'):.4f} |")
PY
