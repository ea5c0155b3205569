#!/usr/bin/env bash
# Fetches the emoji-datasource packages from the npm registry (npm pack: no install, no
# node_modules), for `i2v data from-emoji`.
#
#   scripts/fetch_emoji.sh [DIR] [VENDOR...]
#
# DIR defaults to emoji-packages; VENDORs default to twitter and google (openly licensed: CC-BY 4.0
# and Apache 2.0). apple and facebook also exist; their drawings are not openly licensed (research
# use only). Packages already in DIR are not fetched again. About 62 MB (twitter), 74 MB (google),
# 99 MB (apple), 103 MB (facebook).
set -euo pipefail

dir=${1:-emoji-packages}
shift || true
vendors=("$@")
((${#vendors[@]} > 0)) || vendors=(twitter google)

command -v npm >/dev/null || { echo "fetch_emoji.sh: npm is needed (Debian: apt-get install npm)" >&2; exit 1; }
mkdir -p "$dir"
for vendor in "${vendors[@]}"; do
  case "$vendor" in
    twitter|google|apple|facebook) ;;
    *) echo "fetch_emoji.sh: unknown vendor '$vendor' (twitter, google, apple, facebook)" >&2; exit 2 ;;
  esac
  if compgen -G "$dir/emoji-datasource-$vendor-[0-9]*.tgz" >/dev/null; then
    echo "fetch_emoji.sh: $(ls "$dir"/emoji-datasource-"$vendor"-[0-9]*.tgz | tail -n 1) is already there"
    continue
  fi
  echo "fetch_emoji.sh: npm pack emoji-datasource-$vendor"
  (cd "$dir" && npm pack --silent "emoji-datasource-$vendor" >/dev/null)
done
ls -l "$dir"/emoji-datasource-*.tgz
