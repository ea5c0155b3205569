#!/usr/bin/env bash
# The end-to-end demo (./run.sh demo): from emoji drawings fetched from the npm registry to a
# tagger trained from scratch, its mAP per category against the trivial baseline, tags of held-out
# pictures, 4,096-bit hashes, a similarity search, a semantic morph and the t-SNE map; it ends with
# the `i2v serve` command that shows them all in a browser. Everything it writes goes to demo-out/
# (JSON results, PNG contact sheets). About 8 minutes on 2 idle CPU cores.
#
#   scripts/demo.sh [I2V_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."

i2v=${1:-build/apps/i2v}
out=demo-out
start=$(date +%s)
step() { printf '\n== [%s] %s\n' "$(date -u -d @$(($(date +%s) - start)) +%M:%S)" "$*"; }

mkdir -p "$out"
rm -rf "$out/runs"  # each demo trains afresh

step "1-2. emoji drawings of two vendors from the npm registry (twitter, google), made a Danbooru-style dump:
     general tags = category + words, character = the emoji, copyright = the vendor"
scripts/emoji_dump.sh "$i2v" "$out"

step "3. i2v-tag trained from scratch on the CPU (width 1/4, 64x64 pictures; configs/emoji-i2v-tag.json)"
"$i2v" train --config configs/emoji-i2v-tag.json

step "4. mAP per tag category on the held-out test split, against the baseline (every picture scored by the tag's frequency)"
"$i2v" eval --run "$out/runs/i2v-tag" --split test --top 12 --json "$out/eval.json"

step "5. tags of held-out pictures (the first 5 of the test split; JSON: $out/tags.json)"
"$i2v" tag --metadata "$out/emoji-dump/metadata.jsonl" --images "$out/emoji-dump" --vocab "$out/emoji-vocab.json" \
  --split test --limit 5 --weights "$out/runs/i2v-tag/best.safetensors" --top 6 --json "$out/tags.json" --format table
"$i2v" cam "$out"/emoji-dump/original/0448/12448.png --weights "$out/runs/i2v-tag/best.safetensors" \
  --tag "animal-mammal" -o "$out/cam-animal-mammal.png"

step "6. i2v-feature from the tagger (copies the trunk, learns encode1/encode2; configs/emoji-i2v-feature.json)"
"$i2v" train --config configs/emoji-i2v-feature.json

step "7. 4,096-bit hashes of every picture, the top-5 graph"
"$i2v" hash --metadata "$out/emoji-dump/metadata.jsonl" --images "$out/emoji-dump" --vocab "$out/emoji-vocab.json" \
  --weights "$out/runs/i2v-feature/best.safetensors" -o "$out/emoji.i2vcodes" --force
"$i2v" index graph --store "$out/emoji.i2vcodes" -o "$out/emoji.i2vgraph" --force

step "8. retrieval: is the other vendor's drawing of the same emoji among the nearest? (recall@k vs random codes)"
"$i2v" index recall --store "$out/emoji.i2vcodes" --group-by-id-mod 10000 --k 1,5,10 | tee "$out/recall.txt"

step "9. similarity search: twitter's grinning face (id 10001)"
"$i2v" search 10001 --store "$out/emoji.i2vcodes" --k 8 --sheet "$out/search.png" \
  > "$out/search.json"
head -c 600 "$out/search.json"; echo " ..."

step "10. semantic morphing: grinning face (10001) to cat face (12448)"
"$i2v" morph 10001 12448 --store "$out/emoji.i2vcodes" --graph "$out/emoji.i2vgraph" --alternatives 2 \
  --sheet "$out/morph.png" --json "$out/morph.json" > /dev/null ||
  echo "(the two are not connected in the top-5 graph: see above)"

step "11. the t-SNE map of every code (Illustration2Vec Fig. 5)"
"$i2v" tsne --store "$out/emoji.i2vcodes" --csv "$out/map.csv" --png "$out/map.png"

step "done in $(( $(date +%s) - start )) s: results in $out/"
ls -1 "$out"/*.json "$out"/*.png "$out"/*.txt "$out"/*.csv
echo
echo "To look at them in a browser (tags, neighbours, morphs, the map), serve them and open http://127.0.0.1:8080/:"
echo "  $i2v serve --weights $out/runs/i2v-tag/best.safetensors --hasher $out/runs/i2v-feature/best.safetensors \\"
echo "    --store $out/emoji.i2vcodes --graph $out/emoji.i2vgraph --map $out/map.csv"
