#!/usr/bin/env bash
# The search-index benchmark of bench/RESULTS.md: all-pairs top-5 on N = 76,003 random
# 4,096-bit codes with i2v's CPU kernel, then FAISS IndexBinaryFlat on a subset of queries
# against the same database, in the same run, and the ratio.
#   bench/knn_bench.sh [BUILD_DIR] [extra knn_bench options]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
"$build/bench/knn_bench" --save-codes "$work/codes.npy" --save-knn "$work/knn.npy" "$@" | tee "$work/ours.txt"
ours=$(sed -n 's/^all-pairs: [0-9.]* s, \([0-9.e+]*\) pairs\/s.*/\1/p' "$work/ours.txt")
ours_cpu=$(sed -n 's/^all-pairs: .*: \([0-9.e+]*\) pairs\/s per CPU-second.*/\1/p' "$work/ours.txt")
if /usr/bin/python3 -c 'import faiss' 2>/dev/null; then
  /usr/bin/python3 bench/knn_faiss.py "$work/codes.npy" "$work/knn.npy" ${FAISS_QUERIES:+--queries $FAISS_QUERIES} | tee "$work/faiss.txt"
  read -r theirs theirs_cpu < <(sed -n 's/^PAIRS_PER_SECOND //p' "$work/faiss.txt")
  /usr/bin/python3 -c "print(f'i2v / faiss: {$ours / $theirs:.1f}x pairs/s by the wall clock, {$ours_cpu / $theirs_cpu:.1f}x per CPU-second')"
else
  echo "FAISS not installed (python3-faiss): the peer comparison is skipped"
fi
