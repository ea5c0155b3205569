#!/usr/bin/env bash
# The data loader's pictures/s, decoded + resized to 224 + batched: i2v's DataLoader over the same
# 500x500 pictures as JPEG and as WebP, from a folder dump and from tar shards, with 1..N worker
# threads, beside PyTorch's DataLoader + PIL with as many worker processes, in the same run.
#
#   bench/loader_bench.sh [BUILD_DIR] [SECONDS] [MAX_WORKERS]
#
# The pictures are decode_bench's (bench/decode_bench.sh makes them), copied 5 times over (1,000
# files) so that an epoch lasts; the dumps and shards are made once in $BUILD_DIR/bench/loader.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
seconds=${2:-5}
max_workers=${3:-$(nproc)}
[ -x "$build/bench/loader_bench" ] || { echo "loader_bench.sh: build $build/bench/loader_bench first" >&2; exit 1; }
[ -d "$build/bench/webps-500" ] || bash bench/decode_bench.sh "$build" 1 >/dev/null
root="$build/bench/loader"
workers=$(seq 1 "$max_workers")
for kind in jpg webp; do
  source_dir="$build/bench/$([ $kind = jpg ] && echo jpegs-500 || echo webps-500)"
  dump="$root/$kind"
  if [ ! -d "$dump/shards" ]; then
    rm -rf "$dump" && mkdir -p "$dump/pictures"
    id=0
    for copy in 1 2 3 4 5; do
      for file in "$source_dir"/*."$kind"; do
        id=$((id + 1))
        cp "$file" "$dump/pictures/$id.$kind"
        printf '{"id": %d, "rating": "s", "tag_string_general": "shape colour", "path": "pictures/%d.%s"}\n' \
          "$id" "$id" "$kind" >> "$dump/metadata.jsonl"
      done
    done
    "$build/apps/i2v" data pack --metadata "$dump/metadata.jsonl" --images "$dump" -o "$dump/shards" --per-shard 250 >/dev/null
  fi
done
echo "# $(date -u +%Y-%m-%d) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
for kind in jpg webp; do
  dump="$root/$kind"
  OMP_NUM_THREADS=1 "$build/bench/loader_bench" "$dump/metadata.jsonl" "$dump" "$seconds" $workers
  OMP_NUM_THREADS=1 "$build/bench/loader_bench" "$dump/shards/*.tar" - "$seconds" $workers
  /usr/bin/python3 bench/loader_bench.py "$dump/pictures" "$seconds" $workers
done
