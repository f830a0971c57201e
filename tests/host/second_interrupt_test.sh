#!/usr/bin/env bash
# A second Ctrl-C ends `diffmix compare --jobs 2` at once, and its worker processes with it: none may run on after
# the parent is gone. The two interrupts come 20 ms apart, before the parent has passed the first to its workers
# (it looks every 200 ms), so only the abort itself can stop them.
set -uo pipefail
diffmix=${DIFFMIX:-build/bin/diffmix}
source "$(dirname "$0")/../common/require_fashion_mnist.sh"
work=$(mktemp -d)

# The worker processes of this test's comparison, from /proc (no procps needed).
workers_of() {
  local proc cmdline pids=()
  for proc in /proc/[0-9]*; do
    cmdline=$( { tr '\0' ' ' <"$proc/cmdline"; } 2>/dev/null) || continue
    if [[ $cmdline == *"$work/long.toml"*"--run-setup"* ]]; then pids+=("${proc#/proc/}"); fi
  done
  echo "${pids[*]}"
}
trap 'for pid in $(workers_of); do kill -KILL "$pid" 2>/dev/null; done; rm -rf "$work"' EXIT

cat >"$work/long.toml" <<TOML
output = "$work/out"
[data]
shots = 100
test_per_class = 10
mean = [0.286]
std = [0.353]
[train]
epochs = 500
batch_size = 10
threads = 1
[compare]
seeds = [0, 1]
[[compare.setup]]
name = "none"
TOML

"$diffmix" compare --jobs 2 "$work/long.toml" >"$work/parent.log" 2>&1 &
parent=$!
# Both workers must be running (and past their start-up) before the interrupts.
for _ in $(seq 1 300); do
  [ "$(workers_of | wc -w)" = 2 ] && break
  sleep 0.1
done
sleep 2
workers=$(workers_of)
if [ "$(echo $workers | wc -w)" != 2 ]; then
  echo "FAILED: expected two worker processes, found: '$workers'" >&2
  cat "$work/parent.log" >&2
  exit 1
fi
kill -INT "$parent"
sleep 0.02
kill -INT "$parent"
wait "$parent"
status=$?
if [ "$status" != 130 ]; then
  echo "FAILED: the parent exited with $status after two interrupts, not 130" >&2
  exit 1
fi
sleep 1
left=$(workers_of)
if [ -n "$left" ]; then
  echo "FAILED: worker processes run on after the parent was aborted: $left" >&2
  exit 1
fi
echo "two interrupts: the parent exited with 130 and took its 2 workers ($workers) with it"
