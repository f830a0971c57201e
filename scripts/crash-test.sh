#!/usr/bin/env bash
# Kills `diffmix train`, `diffmix finetune` and `diffmix synthesize` with SIGKILL at random moments, reruns each
# until it finishes, and checks that what it leaves equals an uninterrupted run byte for byte, with no temporary
# files behind.
#
#   scripts/crash-test.sh [SEED] [KILLS]      # default seed 1, 3 kills per command; the test suite runs it
#
# The kill moments are drawn from SEED (each a share of the uninterrupted run's time) and printed, so a failure
# can be replayed. DIFFMIX overrides the binary (default build/bin/diffmix).
set -uo pipefail
cd "$(dirname "$0")/.."

seed=${1:-1}
kills=${2:-3}
diffmix=$(realpath "${DIFFMIX:-build/bin/diffmix}")
model=$(realpath models/fmnist-sd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
RANDOM=$seed
failures=0
export OMP_NUM_THREADS=1

write_configs() {  # FOLDER: the three commands' configs, writing under FOLDER
  local dir=$1
  local data='[data]
kind = "fashion-mnist"
shots = 3
seed = 0
metaclass = "clothing"'
  cat > "$dir/train.toml" <<TOML
output = "$dir/train"
seed = 0
$data
test_per_class = 5
[backbone]
architecture = "small_cnn"
[train]
epochs = 6
batch_size = 6
lr = 0.05
threads = 1
device = "cpu"
TOML
  cat > "$dir/finetune.toml" <<TOML
output = "$dir/finetune"
seed = 0
$data
[model]
path = "$model"
device = "cpu"
[finetune]
strategy = "ti+db"
steps = 40
batch_size = 4
resolution = 32
learning_rate = 1e-3
lora_rank = 2
initializer_token = "clothing"
checkpoint_every = 5
TOML
  cat > "$dir/synthesize.toml" <<TOML
$data
[synthesis]
output = "$dir/cache"
multiplier = 2
seed = 0
device = "cpu"
[synthesis.source]
augmenter = "real_aug"
model = "$model"
strengths = [0.5]
steps = 10
resolution = 32
batch_size = 4
TOML
}

# The files a finished run leaves that must not depend on interruptions: everything but logs and timings.
fingerprint() {  # FOLDER
  (cd "$1" && find . -type f ! -name '*.log' ! -name 'metrics.jsonl' ! -name 'result.json' -print0 | sort -z |
     xargs -0 sha256sum)
}

run_to_end() {  # COMMAND CONFIG: runs until it exits 0 (a killed run exits 137 and is started again)
  "$diffmix" --log-level error "$1" "$2" > /dev/null 2>&1
}

check_command() {  # COMMAND OUTPUT_NAME
  local command=$1 output=$2
  local reference=$work/reference candidate=$work/killed
  mkdir -p "$reference" "$candidate"
  write_configs "$reference"
  write_configs "$candidate"
  local start end duration
  start=$(date +%s%N)
  run_to_end "$command" "$reference/$command.toml" || { echo "FAILED: $command did not finish uninterrupted" >&2; failures=$((failures + 1)); return; }
  end=$(date +%s%N)
  duration=$(( (end - start) / 1000000 ))
  local moments=()
  for ((k = 0; k < kills; k++)); do
    local at=$(( duration * (10 + RANDOM % 80) / 100 ))
    moments+=("${at}ms")
    "$diffmix" --log-level error "$command" "$candidate/$command.toml" > /dev/null 2>&1 &
    local pid=$!
    sleep "$(awk -v ms="$at" 'BEGIN { printf "%.3f", ms / 1000 }')"
    kill -KILL "$pid" 2> /dev/null
    wait "$pid" 2> /dev/null
  done
  run_to_end "$command" "$candidate/$command.toml" ||
    { echo "FAILED: $command did not finish after kills at ${moments[*]}" >&2; failures=$((failures + 1)); return; }
  local leftovers
  leftovers=$(find "$candidate/$output" -name '*.tmp-*')
  if [ -n "$leftovers" ]; then
    echo "FAILED: $command left temporary files after kills at ${moments[*]} (seed $seed):" >&2
    echo "$leftovers" | sed "s#$candidate/#    #" >&2
    failures=$((failures + 1))
  fi
  if ! diff <(fingerprint "$reference/$output") <(fingerprint "$candidate/$output") > "$work/diff.txt"; then
    echo "FAILED: $command after kills at ${moments[*]} (seed $seed) differs from an uninterrupted run:" >&2
    sed 's/^/    /' "$work/diff.txt" >&2
    failures=$((failures + 1))
  else
    echo "$command: killed at ${moments[*]} of ${duration}ms; the resumed run equals the uninterrupted one"
  fi
  rm -rf "$reference" "$candidate"
}

check_command train train
check_command finetune finetune
check_command synthesize cache
[ "$failures" -eq 0 ]
