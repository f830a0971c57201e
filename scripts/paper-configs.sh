#!/usr/bin/env bash
# Writes configs/paper/: every experiment of the Diff-Mix paper as configs that run as published, given the datasets
# and weights (docs/experiments.md maps each to its table and says what it needs).
#
#   scripts/paper-configs.sh            # (re)writes configs/paper/
#   scripts/paper-configs.sh --check    # exits 1 when configs/paper/ differs from what this script writes
#
# One experiment is three steps, each a config: fine-tune Stable Diffusion on the training set
# (<variant>/finetune-<strategy>.toml), fill a synthetic cache (<variant>/synthesize-<augmenter>.toml), and compare
# set-ups with and without the cache (table*.toml). The recipes live in this script only, so that the 70-odd files
# cannot drift apart; edit it and run it again rather than the files.
set -euo pipefail
cd "$(dirname "$0")/.."

# Files are written under $out; the paths the configs print (their commands, the configs that make a cache) are
# always under $shown, so that --check can write elsewhere and compare.
shown=configs/paper
out=$shown
check=false
if [ "${1:-}" = "--check" ]; then
  check=true
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
rm -rf "$out"
mkdir -p "$out"

# ---- the datasets: kind, root, train split, test split, metaclass ------------------------------------------------
declare -A KIND=([cub]=cub [aircraft]=fgvc-aircraft [flower]=flowers102 [car]=stanford-cars [dog]=stanford-dogs)
declare -A ROOT=([cub]=data/CUB_200_2011 [aircraft]=data/fgvc-aircraft-2013b [flower]=data/flowers102
                 [car]=data/stanford_cars [dog]=data/stanford_dogs)
declare -A TRAIN_SPLIT=([cub]=train [aircraft]=trainval [flower]=trainval [car]=train [dog]=train)
declare -A METACLASS=([cub]=bird [aircraft]=aircraft [flower]=flower [car]=car [dog]=dog)
DATASETS=(cub aircraft flower car dog)

# A variant is a dataset with an optional k-shot or long-tail selection: cub, cub-5shot, cub-lt100.
dataset_of() { echo "${1%%-*}"; }
shots_of() { [[ $1 =~ -([0-9]+)shot$ ]] && echo "${BASH_REMATCH[1]}" || echo 0; }
imbalance_of() { [[ $1 =~ -lt([0-9]+)$ ]] && echo "${BASH_REMATCH[1]}" || echo 1; }

# The [data] lines of a variant's training set ("split" for finetune/synthesize, "train_split" for training).
data_lines() {  # VARIANT SPLIT_KEY
  local variant=$1 split_key=$2 dataset
  dataset=$(dataset_of "$variant")
  echo "kind = \"${KIND[$dataset]}\""
  echo "root = \"${ROOT[$dataset]}\""
  echo "$split_key = \"${TRAIN_SPLIT[$dataset]}\""
  local shots imbalance
  shots=$(shots_of "$variant")
  imbalance=$(imbalance_of "$variant")
  if [ "$shots" != 0 ]; then echo "shots = $shots"; fi
  if [ "$imbalance" != 1 ]; then echo "imbalance = $imbalance"; fi
  if [ "$shots" != 0 ] || [ "$imbalance" != 1 ]; then echo "seed = 0                      # chooses the subset; the same in all three steps"; fi
}

finetuned_folder() { echo "runs/paper/$1/finetune-$2"; }  # VARIANT STRATEGY
cache_folder() { echo "cache/paper/$1/$2"; }               # VARIANT AUGMENTER (+ strategy suffix when not ti_db)

# ---- step 1: fine-tuning (the paper: 35,000 steps of batch 8 at 512 px, lr 5e-5, LoRA rank 10) ------------------
write_finetune() {  # VARIANT STRATEGY (ti | db | ti_db)
  local variant=$1 strategy=$2 dataset file
  dataset=$(dataset_of "$variant")
  file=$variant/finetune-$strategy.toml
  mkdir -p "$out/$variant"
  cat >"$out/$file" <<EOF
# Fine-tunes Stable Diffusion 1.5 on $variant ($strategy): step 1 of the experiments that use it (docs/experiments.md).
#
#   diffmix finetune $shown/$file

output = "$(finetuned_folder "$variant" "$strategy")"
seed = 0

[data]
$(data_lines "$variant" split)

[model]
path = "models/stable-diffusion-v1-5"
device = "cuda"

[finetune]
strategy = "${strategy/_/+}"
steps = 35000
batch_size = 8
resolution = 512
learning_rate = 5e-5
checkpoint_every = 500
max_grad_norm = 1.0
EOF
  # LoRA for DB, new class tokens (started from the metaclass word) for TI.
  if [ "$strategy" != ti ]; then echo "lora_rank = 10" >>"$out/$file"; fi
  if [ "$strategy" != db ]; then echo "initializer_token = \"${METACLASS[$dataset]}\"" >>"$out/$file"; fi
}

# ---- step 2: synthesis (5 × the training set) --------------------------------------------------------------------
write_synthesize() {  # VARIANT AUGMENTER STRATEGY STRENGTHS
  local variant=$1 augmenter=$2 strategy=$3 strengths=$4 file name finetuned_line=""
  name=$augmenter
  if [ "$strategy" != ti_db ] && [ "$strategy" != none ]; then name=$augmenter-$strategy; fi
  file=$variant/synthesize-$name.toml
  if [ "$strategy" != none ]; then
    finetuned_line="finetuned = \"$(finetuned_folder "$variant" "$strategy")\"   # diffmix finetune $shown/$variant/finetune-$strategy.toml"
  fi
  mkdir -p "$out/$variant"
  {
    echo "# $augmenter samples for $variant, 5 × its training images: step 2 of the experiments that use them."
    echo "#"
    echo "#   diffmix synthesize $shown/$file"
    echo
    echo "[data]"
    data_lines "$variant" split
    echo
    echo "[synthesis]"
    echo "output = \"$(cache_folder "$variant" "$name")\""
    echo "multiplier = 5"
    echo "seed = 0"
    echo "device = \"cuda\""
    echo
    echo "[synthesis.source]"
    echo "augmenter = \"$augmenter\""
    echo "model = \"models/stable-diffusion-v1-5\""
    if [ -n "$finetuned_line" ]; then echo "$finetuned_line"; fi
    if [ -n "$strengths" ]; then echo "strengths = $strengths   # one drawn per sample"; fi
    echo "steps = 25"
    echo "guidance = 7.5"
    echo "resolution = 512"
    echo "batch_size = 8"
  } >"$out/$file"
}

# ---- step 3: the classifiers ------------------------------------------------------------------------------------
# The recipes of docs/method.md: backbone, resize → crop, learning rate, batch, epochs, weight decay, weights.
backbone_lines() {  # RECIPE (resnet50 | vit_b16 | resnet50_224 | resnet50_lt)
  case $1 in
    resnet50)     printf 'architecture = "resnet50"\nweights = "weights/resnet50.safetensors"\n' ;;
    resnet50_*)   printf 'architecture = "resnet50"\nweights = "weights/resnet50.safetensors"\n' ;;
    vit_b16)      printf 'architecture = "vit_b16"\nweights = "weights/vit_b16_in21k.safetensors"\n' ;;
  esac
}
image_lines() {
  case $1 in
    resnet50)     printf 'resize = 512\nimage_size = 448\n' ;;
    vit_b16)      printf 'resize = 440\nimage_size = 384\nmean = [0.5, 0.5, 0.5]        # the inputs of the ImageNet-21k ViT\nstd = [0.5, 0.5, 0.5]\n' ;;
    resnet50_224|resnet50_lt) printf 'resize = 256\nimage_size = 224\n' ;;
  esac
}
train_lines() {  # epochs batch lr weight_decay warmup
  case $1 in
    resnet50)     printf 'epochs = 128\nbatch_size = 64\nlr = 0.02\nweight_decay = 5e-5\nwarmup_epochs = 12.8         # 10 %% of the steps\n' ;;
    vit_b16)      printf 'epochs = 100\nbatch_size = 32\nlr = 0.001\nweight_decay = 5e-5\nwarmup_epochs = 10\n' ;;
    resnet50_224) printf 'epochs = 128\nbatch_size = 256\nlr = 0.05\nweight_decay = 5e-4\nwarmup_epochs = 12.8\n' ;;
    resnet50_lt)  printf 'epochs = 200\nbatch_size = 128\nlr = 0.005\nweight_decay = 2e-4\nwarmup_epochs = 20\n' ;;
  esac
}

# A [[compare.setup]] that trains on a cache. MODE is uniform or inverse (SYNAuG); SCALER the soft_scaler.
cache_setup() {  # NAME CACHE SYNTHESIZE_CONFIG MODE SCALER [cutmix]
  echo
  echo "[[compare.setup]]"
  echo "name = \"$1\""
  if [ "${6:-}" = cutmix ]; then echo 'augment = [{ augmenter = "cutmix", alpha = 1.0, prob = 0.5 }]'; fi
  echo "[compare.setup.synthetic]"
  echo "cache = \"$2\"   # diffmix synthesize $3"
  if [ "$4" = inverse ]; then echo 'mode = "inverse"             # SYNAuG: p = 0.5, target classes weighted 1 / (n_c + 1)'; fi
  if [ "$5" != 1.0 ]; then echo "soft_scaler = $5             # the authors' code: synthetic labels sum to $5"; fi
}

plain_setup() {  # NAME [cutmix | mixup]
  echo
  echo "[[compare.setup]]"
  echo "name = \"$1\""
  if [ "${2:-}" = cutmix ]; then echo 'augment = [{ augmenter = "cutmix", alpha = 1.0, prob = 0.5 }]'; fi
  if [ "${2:-}" = mixup ]; then echo 'augment = [{ augmenter = "mixup", alpha = 1.0, prob = 0.5 }]'; fi
}

# The head of a comparison: data, backbone and training as RECIPE says. TEST "waterbirds" tests on every Waterbirds
# image instead of the dataset's test split. Writes $out/FILE; the set-ups follow.
compare_head() {  # FILE TITLE VARIANT RECIPE [TEST]
  local file=$1 title=$2 variant=$3 recipe=$4 test=${5:-}
  {
    echo "# $title (docs/experiments.md)."
    echo "#"
    echo "#   diffmix compare $shown/$file"
    echo "#"
    echo "# Needs the synthetic caches its set-ups name (beside each, the config that makes it), ImageNet weights as"
    echo "# safetensors (configs/cub_resnet50.toml and configs/cub_vit_b16.toml say how to write them), and a GPU build."
    echo
    echo "output = \"runs/paper/${file%.toml}\""
    echo
    echo "[data]"
    data_lines "$variant" train_split
    if [ "$test" = waterbirds ]; then
      echo 'test_kind = "waterbirds"'
      echo 'test_root = "data/waterbird_complete95_forest2water2"'
      echo 'test_split = "all"             # every Waterbirds image, as the paper tests'
    fi
    image_lines "$recipe"
    echo "crop_padding = 8"
    echo "workers = 8"
    echo
    echo "[backbone]"
    backbone_lines "$recipe"
    echo
    echo "[train]"
    train_lines "$recipe"
    echo "momentum = 0.9"
    echo "label_smoothing = 0.1"
    echo "eval_every = 4                # the authors evaluate every 4th epoch and report the best"
    echo 'device = "cuda"'
    echo
    echo "[compare]"
    echo "seeds = [0, 1, 2]"
  } >"$out/$file"
}

# ---- Table 1: five fine-grained sets × two backbones: none, CutMix, Mixup, Diff-Mix, Diff-Mix + CutMix ------------
for dataset in "${DATASETS[@]}"; do
  write_finetune "$dataset" ti_db
  write_synthesize "$dataset" diff_mix ti_db "[0.5, 0.7, 0.9]"
  for recipe in resnet50 vit_b16; do
    file=table1-$dataset-$recipe.toml
    compare_head "$file" "Table 1: $dataset, $recipe" "$dataset" "$recipe"
    {
      plain_setup none
      plain_setup cutmix cutmix
      plain_setup mixup mixup
      cache_setup diff_mix "$(cache_folder "$dataset" diff_mix)" "$shown/$dataset/synthesize-diff_mix.toml" uniform 0.9
      cache_setup diff_mix+cutmix "$(cache_folder "$dataset" diff_mix)" "$shown/$dataset/synthesize-diff_mix.toml" \
        uniform 0.9 cutmix
    } >>"$out/$file"
  done
done

# ---- Few-shot CUB (Fig. 6 and Table 5): 1, 5, 10 shots and all, ResNet-50 at 224 ----------------------------------
# The replacement probability follows the shots (0.5, 0.3, 0.2, 0.1) when [synthetic] probability is not given.
# Table 5 compares the fine-tuning strategies at 5 shots and all shots: TI, DB and TI+DB models behind Diff-Mix.
for variant in cub-1shot cub-5shot cub-10shot cub; do
  strategies=(ti_db)
  if [ "$variant" = cub-5shot ] || [ "$variant" = cub ]; then strategies=(ti db ti_db); fi
  for strategy in "${strategies[@]}"; do
    if [ "$variant" != cub ] || [ "$strategy" != ti_db ]; then
      write_finetune "$variant" "$strategy"
      write_synthesize "$variant" diff_mix "$strategy" "[0.5, 0.7, 0.9]"
    fi
  done
  shots=$(shots_of "$variant")
  label=$([ "$shots" = 0 ] && echo all || echo "$shots")
  file=fewshot-cub-$label.toml
  compare_head "$file" "Few-shot CUB, $label shots (Fig. 6; Table 5 at 5 and all)" "$variant" resnet50_224
  {
    plain_setup none
    for strategy in "${strategies[@]}"; do
      name=diff_mix
      if [ "$strategy" != ti_db ]; then name=diff_mix-$strategy; fi
      cache_setup "$name" "$(cache_folder "$variant" "$name")" "$shown/$variant/synthesize-$name.toml" uniform 0.9
    done
  } >>"$out/$file"
done

# ---- Tables 2 and 3: CUB-LT and Flower-LT at ρ = 100, 20, 10 -----------------------------------------------------
# Real-Gen and Real-Mix use the base model; Real-Mix and Diff-Mix translate at s = 0.7. SYNAuG balancing replaces a
# real sample with probability 0.5 and weights target classes by 1 / (n_c + 1); the long-tail runs keep labels as
# they are (soft_scaler 1).
for dataset in cub flower; do
  table=$([ "$dataset" = cub ] && echo table2 || echo table3)
  for rho in 100 20 10; do
    variant=$dataset-lt$rho
    write_finetune "$variant" ti_db
    write_synthesize "$variant" real_gen none ""
    write_synthesize "$variant" real_mix none "[0.7]"
    write_synthesize "$variant" diff_mix ti_db "[0.7]"
    file=$table-$dataset-lt$rho.toml
    compare_head "$file" "Table ${table#table}: $dataset-LT at imbalance $rho" "$variant" resnet50_lt
    {
      plain_setup none
      for augmenter in real_gen real_mix diff_mix; do
        cache_setup "$augmenter" "$(cache_folder "$variant" "$augmenter")" \
          "$shown/$variant/synthesize-$augmenter.toml" inverse 1.0
      done
    } >>"$out/$file"
  done
done

# ---- Table 4: a CUB classifier tested on every Waterbirds image, per (bird, place) group ------------------------
write_finetune cub ti
write_synthesize cub da_fusion ti "[0.25, 0.5, 0.75, 1.0]"
write_synthesize cub diff_aug ti_db "[0.5, 0.7, 0.9]"
file=table4-waterbirds.toml
compare_head "$file" "Table 4: CUB classifiers on Waterbirds" cub resnet50 waterbirds
{
  plain_setup none
  plain_setup cutmix cutmix
  cache_setup da_fusion "$(cache_folder cub da_fusion-ti)" "$shown/cub/synthesize-da_fusion-ti.toml" uniform 0.9
  cache_setup diff_aug "$(cache_folder cub diff_aug)" "$shown/cub/synthesize-diff_aug.toml" uniform 0.9
  cache_setup diff_mix "$(cache_folder cub diff_mix)" "$shown/cub/synthesize-diff_mix.toml" uniform 0.9
} >>"$out/$file"

if $check; then
  if ! diff -r "$out" configs/paper >/dev/null; then
    echo "configs/paper differs from what scripts/paper-configs.sh writes: run it and commit the result" >&2
    diff -r "$out" configs/paper | head -20 >&2
    exit 1
  fi
  echo "configs/paper: $(find "$out" -name '*.toml' | wc -l) configs, as scripts/paper-configs.sh writes them"
fi
