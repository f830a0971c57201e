#!/usr/bin/env bash
# The whole test suite built with AddressSanitizer and UndefinedBehaviorSanitizer (clang), then every fuzz target for
# a short, repeatable run. CI runs it after the suite of README.md.
#
#   scripts/sanitize.sh [FUZZ_RUNS]     # default 2000 executions per fuzz target, libFuzzer seed 1; 0 skips fuzzing
#
# The fuzzing here is a fixed sequence of inputs from a fresh working corpus, so that its verdict is the same on every
# machine; exploring (long runs, random seeds, a growing corpus) is scripts/fuzz.sh's job.
#
# The build lives in build-sanitize (shared with scripts/fuzz.sh). A memory error, undefined behaviour or a leak in
# diffmix's own code fails the test that ran into it, with the sanitizer's report in the test's output.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_runs=${1:-2000}

./scripts/install-deps.sh --sanitizers
CC=clang CXX=clang++ cmake -S . -B build-sanitize -G Ninja -DDIFFMIX_FUZZ=ON -DDIFFMIX_BUILD_BENCH=OFF
cmake --build build-sanitize -j"$(nproc)"

export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:check_initialization_order=1
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/leak-suppressions.txt:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-sanitize --output-on-failure -j"$(nproc)"

if [ "$fuzz_runs" != 0 ]; then
  rm -rf build-sanitize/fuzz-ci
  FUZZ_RUNS=$fuzz_runs FUZZ_SEED=1 FUZZ_WORK_DIR=build-sanitize/fuzz-ci ./scripts/fuzz.sh 600
fi
