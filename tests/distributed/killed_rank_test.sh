#!/usr/bin/env bash
# `diffmix train --nproc-per-node 2` and `diffmix finetune --nproc-per-node 2`, hurt from outside:
#   1. rank 1 killed with SIGKILL mid-training: the launch ends (never hangs) with an error naming rank 1, and rank 0
#      says which rank stopped answering; no rank is left running;
#   2. Ctrl-C: every rank stops at the same step, rank 0 saves the checkpoint, the launch exits with 130, and the same
#      command continues from there to the end;
#   3. the same for fine-tuning (TI + LoRA of the shipped models/fmnist-sd).
set -uo pipefail
diffmix=${DIFFMIX:-build/bin/diffmix}
source "$(dirname "$0")/../common/require_fashion_mnist.sh"
work=$(mktemp -d)

# The ranks of this test's launches, from /proc (no procps needed): processes whose environment has RANK=<n>.
rank_pid() {
  local proc
  for proc in /proc/[0-9]*; do
    { tr '\0' '\n' <"$proc/cmdline"; } 2>/dev/null | grep -q "^$work/" || continue
    if { tr '\0' '\n' <"$proc/environ"; } 2>/dev/null | grep -qx "RANK=$1"; then echo "${proc#/proc/}"; return; fi
  done
}
cleanup() {
  for rank in 0 1; do pid=$(rank_pid $rank); [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }

config() {  # config OUTPUT EPOCHS
  cat <<TOML
output = "$1"
[data]
shots = 10
test_per_class = 5
mean = [0.286]
std = [0.353]
workers = 1
[train]
epochs = $2
batch_size = 20
threads = 1
TOML
}

# Waits until rank 0 has logged `pattern` (default: the second epoch), so that the ranks are inside the loop.
wait_for_training() {
  local pattern=${2:-epoch 2/}
  for _ in $(seq 1 600); do
    grep -q "$pattern" "$1" && return 0
    sleep 0.1
  done
  cat "$1" >&2
  fail "the launch did not log '$pattern'"
}

# Waits at most $2 seconds for process $1 to end; its exit status is in $status.
wait_bounded() {
  local pid=$1 limit=$2
  for _ in $(seq 1 $((limit * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid"
    fail "the launch was still running $limit s later"
  fi
  wait "$pid"
  status=$?
}

# 1. A killed rank.
config "$work/killed" 100000 >"$work/killed.toml"
"$diffmix" train "$work/killed.toml" --nproc-per-node 2 --dist-timeout 60 >"$work/killed.log" 2>&1 &
launcher=$!
wait_for_training "$work/killed.log"
victim=$(rank_pid 1)
[ -n "$victim" ] || fail "no rank 1 process"
kill -KILL "$victim"
wait_bounded "$launcher" 45
[ "$status" != 0 ] || fail "the launch exited with 0 after rank 1 was killed"
grep -q "rank 1 of 2 was killed by signal 9" "$work/killed.log" || { cat "$work/killed.log" >&2; fail "rank 1 not named"; }
grep -q "rank 1 did not answer" "$work/killed.log" || { cat "$work/killed.log" >&2; fail "rank 0 did not name rank 1"; }
[ -z "$(rank_pid 0)$(rank_pid 1)" ] || fail "ranks left running: $(rank_pid 0) $(rank_pid 1)"
echo "killed rank: the launch ended with $status in bounded time and named rank 1"

# 2. Ctrl-C, then the same command to the end.
config "$work/interrupted" 40 >"$work/interrupted.toml"
"$diffmix" train "$work/interrupted.toml" --nproc-per-node 2 >"$work/interrupted.log" 2>&1 &
launcher=$!
wait_for_training "$work/interrupted.log"
kill -INT "$launcher"
wait_bounded "$launcher" 60
if [ "$status" = 0 ]; then
  echo "skipped the resume: the run finished before the interrupt reached it"
  exit 0
fi
[ "$status" = 130 ] || { cat "$work/interrupted.log" >&2; fail "exit status $status after Ctrl-C, not 130"; }
[ -f "$work/interrupted/checkpoint.safetensors" ] || fail "no checkpoint after Ctrl-C"
[ -z "$(rank_pid 0)$(rank_pid 1)" ] || fail "ranks left running after Ctrl-C"
"$diffmix" train "$work/interrupted.toml" --nproc-per-node 2 >"$work/resumed.log" 2>&1 ||
  { cat "$work/resumed.log" >&2; fail "the resumed launch failed"; }
grep -q "resuming" "$work/resumed.log" || { cat "$work/resumed.log" >&2; fail "the second launch did not resume"; }
[ "$(grep -c . "$work/interrupted/metrics.jsonl")" = 40 ] || fail "metrics.jsonl does not have 40 epochs"
echo "Ctrl-C: every rank stopped (exit 130), and the same command resumed and finished"

# 3. Ctrl-C while fine-tuning, then the same command to the end.
model="$(cd "$(dirname "$0")/../.." && pwd)/models/fmnist-sd"
cat >"$work/finetune.toml" <<TOML
output = "$work/finetuned"
[data]
kind = "fashion-mnist"
shots = 4
metaclass = "clothing"
[model]
path = "$model"
[finetune]
steps = 300
batch_size = 4
resolution = 32
initializer_token = "clothing"
checkpoint_every = 1000
TOML
"$diffmix" finetune "$work/finetune.toml" --nproc-per-node 2 >"$work/finetune.log" 2>&1 &
launcher=$!
wait_for_training "$work/finetune.log" "finetune ti+db [0-9]"
kill -INT "$launcher"
wait_bounded "$launcher" 60
[ "$status" = 130 ] || { cat "$work/finetune.log" >&2; fail "fine-tuning: exit status $status after Ctrl-C, not 130"; }
[ -f "$work/finetuned/checkpoint.safetensors" ] || fail "fine-tuning: no checkpoint after Ctrl-C"
[ -z "$(rank_pid 0)$(rank_pid 1)" ] || fail "fine-tuning: ranks left running after Ctrl-C"
"$diffmix" finetune "$work/finetune.toml" --nproc-per-node 2 >"$work/finetune-resumed.log" 2>&1 ||
  { cat "$work/finetune-resumed.log" >&2; fail "the resumed fine-tuning failed"; }
grep -q "for 300 steps (resumed from [1-9]" "$work/finetune-resumed.log" ||
  { cat "$work/finetune-resumed.log" >&2; fail "the second fine-tuning launch did not resume"; }
echo "fine-tuning Ctrl-C: every rank stopped (exit 130), and the same command resumed and finished"
