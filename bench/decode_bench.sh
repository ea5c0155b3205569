#!/usr/bin/env bash
# Decode + resize to 224x224, images/s on one core: i2v's paths beside PIL's, in the same run,
# on the same core (taskset -c CORE), over the same synthetic ~500x500 JPEGs (quality 90), then
# over the same pictures as WebP (quality 90).
#
#   bench/decode_bench.sh [BUILD_DIR] [SECONDS] [CORE]
#
# The JPEGs are made by `decode_bench make-jpegs` (synthetic illustrations: shaded shapes with
# outlines and thin strokes, 200 files, ~80 KB each) into $BUILD_DIR/bench/jpegs-500 once.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
seconds=${2:-2}
core=${3:-0}
bench="$build/bench/decode_bench"
[ -x "$bench" ] || { echo "decode_bench.sh: build $bench first (cmake --build $build --target decode_bench)" >&2; exit 1; }
jpegs="$build/bench/jpegs-500"
[ -d "$jpegs" ] || "$bench" make-jpegs "$jpegs" 200 500
# The same pictures as WebP (lossy, quality 90, as Danbooru dumps ship them), made by PIL once.
webps="$build/bench/webps-500"
[ -d "$webps" ] || /usr/bin/python3 -c "
import os, sys
from PIL import Image
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst + '.tmp', exist_ok=True)
for name in sorted(os.listdir(src)):
    Image.open(os.path.join(src, name)).save(os.path.join(dst + '.tmp', name[:-4] + '.webp'), quality=90)
os.rename(dst + '.tmp', dst)" "$jpegs" "$webps"
pin=()
command -v taskset >/dev/null && pin=(taskset -c "$core")
echo "# $(date -u +%Y-%m-%d) $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), pinned to core $core"
for folder in "$jpegs" "$webps"; do
  "${pin[@]}" "$bench" run "$folder" "$seconds"
  "${pin[@]}" /usr/bin/python3 bench/decode_bench.py "$folder" "$seconds"
done
