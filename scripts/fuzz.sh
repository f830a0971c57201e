#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, one per parser of outside input) and runs each for SECONDS.
#
#   scripts/fuzz.sh [SECONDS]        # default 60 s per target; FUZZ_RUNS=N stops a target after N executions
#   scripts/fuzz.sh 30 toml_config   # only the named targets
#
# Runs $(nproc) targets at a time (FUZZ_JOBS overrides). Each starts from its seed corpus in tests/fuzz/corpus/<target>
# and grows a working corpus in build-sanitize/fuzz/corpus/<target> (FUZZ_WORK_DIR replaces build-sanitize/fuzz),
# kept between runs. FUZZ_SEED fixes libFuzzer's seed (with FUZZ_RUNS and a fresh FUZZ_WORK_DIR, a run is repeatable).
# A crash, leak, timeout or an exception other than dmx::Error leaves its input in <work>/findings/<target>/ and fails
# the script; fixed, such an input belongs in tests/fuzz/corpus/<target>/ so that CTest replays it from then on.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
build=${FUZZ_BUILD_DIR:-build-sanitize}
jobs=${FUZZ_JOBS:-$(nproc)}

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DDIFFMIX_FUZZ=ON -DDIFFMIX_BUILD_BENCH=OFF >/dev/null || exit 1
fi
cmake --build "$build" --target fuzz_all -j"$jobs" || exit 1

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for program in "$build"/fuzz/fuzz_*; do targets+=("$(basename "$program" | sed 's/^fuzz_//')"); done
fi

run_target() {  # TARGET: fuzz it, then print one line of results
  local target=$1 build=$2 seconds=$3 work=$4
  local corpus=$work/corpus/$target findings=$work/findings/$target log=$work/logs/$target.log
  mkdir -p "$corpus" "$findings" "$(dirname "$log")"
  local runs=()
  if [ -n "${FUZZ_RUNS:-}" ]; then runs+=(-runs="$FUZZ_RUNS"); fi
  if [ -n "${FUZZ_SEED:-}" ]; then runs+=(-seed="$FUZZ_SEED"); fi
  "$build/fuzz/fuzz_$target" "$corpus" "tests/fuzz/corpus/$target" -max_total_time="$seconds" "${runs[@]}" \
    -timeout=10 -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 -artifact_prefix="$findings/" >"$log" 2>&1
  local status=$?
  local executed rate
  executed=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'exec/s: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  local verdict="ok"
  if [ $status -ne 0 ]; then verdict="FAILED (exit $status; input and report: $findings, $log)"; fi
  printf '%-22s %12s %8s %8s  %s\n' "$target" "${executed:-?}" "${rate:-?}" "$(ls "$corpus" | wc -l)" "$verdict"
  return $status
}
export -f run_target

printf '%-22s %12s %8s %8s  %s\n' target executions exec/s corpus result
work=$(realpath -m "${FUZZ_WORK_DIR:-$build/fuzz}")
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_target "$@"' _ {} "$build" "$seconds" "$work"
