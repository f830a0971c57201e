#!/usr/bin/env bash
# Small oracle checks of the Fashion-MNIST model, each printing the oracle's report on 200 samples (20 references per
# class from the few-shot split of configs/fmnist_diffmix.toml):
#
#   scripts/fmnist-oracle-trial.sh finetune STEPS LEARNING_RATE LORA_RANK [GUIDANCE]
#       fine-tune textual inversion + LoRA with these settings, then make 200 Diff-Gen samples with it;
#       e.g. `finetune 2500 3e-3 10` writes runs/oracle-trials/finetune-s2500-lr3e-3-r10-g7.5/oracle.txt
#   scripts/fmnist-oracle-trial.sh near-copies
#       take the 200 real images through SDEdit at strength 0.04 (the VAE, a trace of noise, one denoising step):
#       the share the oracle recognises is about the most any sample of this model can reach
#
# Needs the oracle (`diffmix train configs/fmnist_oracle.toml`). One thread each, so that two trials can run side by
# side. MODEL (default models/fmnist-sd) and DIFFMIX (default build/bin/diffmix) override the paths.
set -euo pipefail
cd "$(dirname "$0")/.."

diffmix=${DIFFMIX:-build/bin/diffmix}
model=${MODEL:-models/fmnist-sd}
export OMP_NUM_THREADS=1

# write_synthesis_config OUT AUGMENTER SOURCE_LINES: a `diffmix synthesize` config for the 200 references.
write_synthesis_config() {
  cat > "$1/synthesize.toml" <<TOML
[data]
kind = "fashion-mnist"
shots = 20
seed = 0
metaclass = "clothing"
[synthesis]
output = "$1/cache"
multiplier = 1
seed = 0
device = "cpu"
[synthesis.source]
augmenter = "$2"
model = "$model"
steps = 25
resolution = 32
batch_size = 50
$3
TOML
}

finetune_trial() {
  local steps=$1 learning_rate=$2 rank=$3 guidance=${4:-7.5}
  local out=runs/oracle-trials/finetune-s$steps-lr$learning_rate-r$rank-g$guidance
  mkdir -p "$out"
  cat > "$out/finetune.toml" <<TOML
output = "$out/finetuned"
seed = 0
[data]
kind = "fashion-mnist"
shots = 50
seed = 0
metaclass = "clothing"
[model]
path = "$model"
device = "cpu"
[finetune]
strategy = "ti+db"
steps = $steps
batch_size = 32
resolution = 32
learning_rate = $learning_rate
lora_rank = $rank
initializer_token = "clothing"
checkpoint_every = 100
TOML
  "$diffmix" finetune "$out/finetune.toml" > "$out/finetune.log" 2>&1
  write_synthesis_config "$out" diff_gen "finetuned = \"$out/finetuned\"
guidance = $guidance"
  judge "$out"
}

near_copies_trial() {
  local out=runs/oracle-trials/near-copies
  mkdir -p "$out"
  write_synthesis_config "$out" real_aug "strengths = [0.04]"
  judge "$out"
}

judge() {
  "$diffmix" synthesize "$1/synthesize.toml" > "$1/synthesize.log" 2>&1
  "$diffmix" --log-level warn oracle configs/fmnist_oracle.toml --cache "$1/cache" | tee "$1/oracle.txt"
}

case ${1:-} in
  finetune) shift; finetune_trial "$@" ;;
  near-copies) near_copies_trial ;;
  *) sed -n '2,14p' "$0" >&2; exit 64 ;;
esac
