#!/usr/bin/env bash
# The emoji dataset of the demo, made once: drawings of two vendors from the npm registry
# (twitter, google), turned into a Danbooru-style dump (general tags = category + words,
# character = the emoji, copyright = the vendor) and its tag vocabulary. Used by scripts/demo.sh
# and the benchmarks that train on the demo's data.
#
#   scripts/emoji_dump.sh I2V_BINARY OUT     (writes OUT/emoji-packages, OUT/emoji-dump, OUT/emoji-vocab.json)
set -euo pipefail
cd "$(dirname "$0")/.."

i2v=$1
out=$2
mkdir -p "$out"
scripts/fetch_emoji.sh "$out/emoji-packages" twitter google
[ -f "$out/emoji-dump/metadata.jsonl" ] || "$i2v" data from-emoji --packages "$out/emoji-packages" -o "$out/emoji-dump"
"$i2v" vocab build --metadata "$out/emoji-dump/metadata.jsonl" -o "$out/emoji-vocab.json" --top 3 --force
