#!/usr/bin/env bash
# Throughput of `diffmix train` in one process against N data-parallel processes on this machine, with the same
# global batch and the same number of cores in all (one process with N threads against N processes with one thread
# each). Prints images/s over epochs 2-4 (rank 0 counts the whole batch; the first epoch includes start-up) and the
# ratio.
#
#   scripts/distributed-scaling.sh [N] [ARCHITECTURE]     (defaults: 2, small_cnn; needs dataset-fashion-mnist)
set -euo pipefail
processes=${1:-2}
architecture=${2:-small_cnn}
diffmix=${DIFFMIX:-build/bin/diffmix}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

config() {  # config OUTPUT THREADS
  cat <<TOML
output = "$1"
[data]
shots = 200
test_per_class = 10
image_size = 32
mean = [0.286]
std = [0.353]
workers = 1
[backbone]
architecture = "$architecture"
[train]
epochs = 4
batch_size = 64
threads = $2
TOML
}

# mean images/s of epochs 2-4 in a run's metrics.jsonl
throughput() {
  tail -n 3 "$1/metrics.jsonl" | sed 's/.*"images_per_s":\([0-9.e+]*\).*/\1/' | awk '{ s += $1 } END { print s / NR }'
}

config "$work/one" "$processes" >"$work/one.toml"
config "$work/many" 1 >"$work/many.toml"
"$diffmix" train "$work/one.toml" >"$work/one.log" 2>&1
"$diffmix" train "$work/many.toml" --nproc-per-node "$processes" >"$work/many.log" 2>&1
one=$(throughput "$work/one")
many=$(throughput "$work/many")
echo "$architecture, Fashion-MNIST 2,000 images at 32 px, batch 64, $(nproc) cores:"
printf '  %-30s %8.1f images/s\n' "1 process, $processes threads:" "$one" "$processes processes, 1 thread each:" "$many"
awk -v a="$one" -v b="$many" -v n="$processes" 'BEGIN { printf "  %-30s %8.2fx\n", n " processes / 1 process:", b / a }'
