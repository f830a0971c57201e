#!/usr/bin/env bash
# Throughput of one job in one process against N data-parallel processes on this machine, with the same work and the
# same number of cores in all (one process with N threads against N processes with one thread each); prints both and
# their ratio.
#
#   scripts/distributed-scaling.sh [N] [JOB]          (defaults: 2, small_cnn; needs dataset-fashion-mnist)
#
# JOB is one of
#   a classifier architecture (small_cnn, resnet18, vit_tiny16, ...)   `diffmix train`: images/s over epochs 2-4
#                                                                     (the first includes start-up)
#   finetune     `diffmix finetune`, TI + LoRA of models/fmnist-sd on Fashion-MNIST: steps/s of the training loop
#   synthesize   `diffmix synthesize`, real_mix with models/fmnist-sd: samples/s of the whole command, model loading
#                and (for N processes) the merge included
set -euo pipefail
processes=${1:-2}
job=${2:-small_cnn}
diffmix=${DIFFMIX:-build/bin/diffmix}
model=${DIFFMIX_SCALING_MODEL:-$PWD/models/fmnist-sd}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

train_config() {  # OUTPUT THREADS
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
architecture = "$job"
[train]
epochs = 4
batch_size = 64
threads = $2
TOML
}

fashion_mnist_data() {
  printf '[data]\nkind = "fashion-mnist"\nshots = 10\nmetaclass = "clothing"\n'
}

finetune_config() {  # OUTPUT
  printf 'output = "%s"\n' "$1"
  fashion_mnist_data
  printf '[model]\npath = "%s"\n' "$model"
  printf '[finetune]\nstrategy = "ti+db"\nsteps = 100\nbatch_size = 8\nresolution = 32\ninitializer_token = "clothing"\n'
}

synthesize_config() {  # OUTPUT
  fashion_mnist_data
  printf '[synthesis]\noutput = "%s"\ncount = 192\nseed = 0\n' "$1"
  printf '[synthesis.source]\naugmenter = "real_mix"\nmodel = "%s"\nresolution = 32\nsteps = 10\nbatch_size = 8\n' \
    "$model"
}

# mean images/s of epochs 2-4 in a run's metrics.jsonl
train_throughput() {
  tail -n 3 "$1/metrics.jsonl" | sed 's/.*"images_per_s":\([0-9.e+]*\).*/\1/' | awk '{ s += $1 } END { print s / NR }'
}

# run NAME THREADS [ARGS...]: the job in one process with THREADS threads, or as the ARGS say; prints its throughput
run() {
  local name=$1 threads=$2
  shift 2
  case "$job" in
    finetune)
      finetune_config "$work/$name" >"$work/$name.toml"
      OMP_NUM_THREADS=$threads "$diffmix" finetune "$work/$name.toml" "$@" >"$work/$name.log" 2>&1
      sed -n 's/.*, \([0-9.]*\) steps\/s$/\1/p' "$work/$name.log" | tail -n 1
      ;;
    synthesize)
      synthesize_config "$work/$name" >"$work/$name.toml"
      local start end
      start=$(date +%s.%N)
      OMP_NUM_THREADS=$threads "$diffmix" synthesize "$work/$name.toml" "$@" >"$work/$name.log" 2>&1
      end=$(date +%s.%N)
      awk -v s="$start" -v e="$end" 'BEGIN { print 192 / (e - s) }'
      ;;
    *)
      train_config "$work/$name" "$threads" >"$work/$name.toml"
      "$diffmix" train "$work/$name.toml" "$@" >"$work/$name.log" 2>&1
      train_throughput "$work/$name"
      ;;
  esac
}

one=$(run one "$processes")
many=$(run many 1 --nproc-per-node "$processes")
case "$job" in
  finetune)
    unit="steps/s"
    echo "finetune TI+LoRA, fmnist-sd at 32 px, batch 8, $(nproc) cores:" ;;
  synthesize)
    unit="samples/s"
    echo "synthesize real_mix, fmnist-sd at 32 px, 192 samples, 10 steps, blocks of 8, $(nproc) cores:" ;;
  *)
    unit="images/s"
    echo "$job, Fashion-MNIST 2,000 images at 32 px, batch 64, $(nproc) cores:" ;;
esac
printf "  %-30s %8.2f $unit\n" "1 process, $processes threads:" "$one" "$processes processes, 1 thread each:" "$many"
awk -v a="$one" -v b="$many" -v n="$processes" 'BEGIN { printf "  %-30s %8.2fx\n", n " processes / 1 process:", b / a }'
