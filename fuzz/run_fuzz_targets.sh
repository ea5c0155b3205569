#!/usr/bin/env bash
# Runs every fuzz target of a fuzz build for SECONDS each, one after the other, from its seed
# corpus (fuzz/corpus/<target>/) and what earlier runs found (<dir>/corpus/<target>/), and prints
# per target: executions, executions per second, the inputs that reached new code, and the
# finding if there was one (libFuzzer stops at the first: a crash, a leak, undefined behaviour,
# a timeout, running out of memory, or an error not naming its file). Exit status 1 when any
# target found something. (./run.sh fuzz SECONDS builds the targets, then runs this.)
#
# usage: fuzz/run_fuzz_targets.sh FUZZ_BUILD_DIR SECONDS [TARGET...]
#   FUZZ_BUILD_DIR: the fuzz/ folder of the fuzz build (<build>/asan/fuzz), holding <target>_fuzz
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir=${1:?usage: run_fuzz_targets.sh FUZZ_BUILD_DIR SECONDS [TARGET...]}
seconds=${2:?usage: run_fuzz_targets.sh FUZZ_BUILD_DIR SECONDS [TARGET...]}
shift 2
targets=("$@")
if ((${#targets[@]} == 0)); then
  for binary in "$dir"/*_fuzz; do
    name=$(basename "$binary")
    targets+=("${name%_fuzz}")
  done
fi

printf '%-16s %12s %8s %10s  %s\n' target executions exec/s "new inputs" finding
failed=0
for target in "${targets[@]}"; do
  scratch="$dir/corpus/$target" findings="$dir/findings/$target" log="$dir/findings/$target.log"
  mkdir -p "$scratch" "$findings"
  OMP_WAIT_POLICY=passive UBSAN_OPTIONS=print_stacktrace=1 "$dir/${target}_fuzz" "$scratch" "$here/corpus/$target" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings/" >"$log" 2>&1
  status=$?
  stat() { grep -ao "stat::$1: *[0-9]*" "$log" | tail -1 | grep -o '[0-9]*$'; }
  executions=$(stat number_of_executed_units) per_second=$(stat average_exec_per_sec) added=$(stat new_units_added)
  finding=none
  if ((status != 0)); then
    failed=1
    artifact=$(grep -ao "Test unit written to [^ ]*" "$log" | tail -1 | sed 's/Test unit written to //')
    kind=$(grep -a -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer): [a-z-]+|runtime error: .*|==fuzz== finding: .*' "$log" | head -1)
    finding="${kind:-exit status $status} -> ${artifact:-$log} (log: $log)"
  fi
  printf '%-16s %12s %8s %10s  %s\n' "$target" "${executions:-?}" "${per_second:-?}" "${added:-?}" "$finding"
done
exit "$failed"
