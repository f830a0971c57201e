#!/usr/bin/env bash
# Gives every command a missing, empty, truncated and wrong-kind file for each kind of input it reads, and checks
# the answer: exactly one line starting "diffmix: ", naming the file, and an exit code of the documented convention
# (64 usage, 65 bad data, 66 missing input, 74 I/O, 78 config; never a crash, an abort or a stack trace).
#
#   scripts/bad-input-audit.sh            # writes the table into docs/errors.md; exits 1 if any case breaks a rule
#   scripts/bad-input-audit.sh --check    # only checks (the test suite runs this)
#
# DIFFMIX overrides the binary (default build/bin/diffmix).
set -uo pipefail
cd "$(dirname "$0")/.."

mode=${1:-write}
diffmix=$(realpath "${DIFFMIX:-build/bin/diffmix}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rows=()
failures=0

# A PNG's bytes where text is expected, and text where binary data is expected.
png=$work/image.png
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00' > "$png"

# audit COMMAND_LABEL INPUT_LABEL NAMED_FILE ARGS...: runs diffmix ARGS in $work and checks its answer.
audit() {
  local label=$1 input=$2 named=$3
  shift 3
  local out=$work/out.txt rc
  (cd "$work" && OMP_NUM_THREADS=1 timeout 120 "$diffmix" --log-level error "$@" > "$out" 2>&1)
  rc=$?
  local lines message problem=""
  lines=$(grep -ac '^diffmix: ' "$out")
  message=$(grep -a -m1 '^diffmix: ' "$out" | sed "s#$work/##g")
  case $rc in 64|65|66|74|78) ;; *) problem="exit code $rc" ;; esac
  [ "$lines" -eq 1 ] || problem="${problem:+$problem; }$lines lines start with 'diffmix: '"
  [ "$(wc -l < "$out")" -eq 1 ] || problem="${problem:+$problem; }$(wc -l < "$out") lines of output"
  grep -q -- "$named" <<< "$message" || problem="${problem:+$problem; }the message does not name $named"
  if [ -n "$problem" ]; then
    failures=$((failures + 1))
    echo "FAILED: diffmix $* ($input): $problem" >&2
    sed 's/^/    /' "$out" >&2
  fi
  rows+=("| \`$label\` | $input | $rc | \`${message//|/\\|}\` |")
}

# Config files: each command that reads one, given each kind of bad file.
printf '' > "$work/empty.toml"
printf '[train]\nepochs = ' > "$work/truncated.toml"
cp "$png" "$work/binary.toml"
for command in train compare finetune synthesize pretrain dataset; do
  audit "$command CONFIG" "missing config" missing.toml "$command" missing.toml
  audit "$command CONFIG" "empty config" empty.toml "$command" empty.toml
  audit "$command CONFIG" "truncated config" truncated.toml "$command" truncated.toml
  audit "$command CONFIG" "binary file as config" binary.toml "$command" binary.toml
done

# Keys a user mistypes: one close to a valid name, one far from all of them.
printf '[train]\nepoch = 3\n' > "$work/misspelt.toml"
printf '[train]\nlerning_rate = 0.1\n' > "$work/unknown.toml"
audit "train CONFIG" "misspelt key" misspelt.toml train misspelt.toml
audit "train CONFIG" "unknown key" unknown.toml train unknown.toml

# A model folder, through the engine: missing, empty, its UNet weights cut in half, and text in their place.
mkdir -p "$work/empty-model"
for variant in truncated text; do
  cp -r models/fmnist-sd "$work/$variant-model"
done
weights=unet/diffusion_pytorch_model.safetensors
truncate -s $(( $(stat -c %s "models/fmnist-sd/$weights") / 2 )) "$work/truncated-model/$weights"
echo "not safetensors" > "$work/text-model/$weights"
for case in "missing model folder:missing-model:missing-model" "empty model folder:empty-model:empty-model" \
            "truncated UNet weights:truncated-model:$weights" "text as UNet weights:text-model:$weights"; do
  IFS=: read -r input folder named <<< "$case"
  audit "sd txt2img --model DIR" "$input" "$named" sd txt2img --model "$folder" --prompt "a photo of a clothing" \
    --steps 2 --out samples
done

# A synthetic cache: missing, empty, a manifest cut in the middle of a line, and binary data as the manifest.
mkdir -p "$work/empty-cache" "$work/truncated-cache" "$work/binary-cache"
printf '{"path":"images/000000.png","seed":1,"source_class":0,"target' > "$work/truncated-cache/manifest.jsonl"
cp "$png" "$work/binary-cache/manifest.jsonl"
for case in "missing cache:missing-cache:missing-cache" "empty cache folder:empty-cache:empty-cache" \
            "truncated manifest:truncated-cache:truncated-cache/manifest.jsonl" \
            "binary manifest:binary-cache:binary-cache/manifest.jsonl"; do
  IFS=: read -r input folder named <<< "$case"
  audit "grid --cache DIR" "$input" "$named" grid --cache "$folder" --out grid.png
done

# Training images: an image-folder dataset (root/<split>/<class>/) that is missing, empty, holds a truncated PNG,
# or text named .png.
mkdir -p "$work/empty-images"
for split in train test; do
  mkdir -p "$work/truncated-images/$split/a" "$work/text-images/$split/a"
  head -c 20 "$png" > "$work/truncated-images/$split/a/cut.png"
  echo "not an image" > "$work/text-images/$split/a/text.png"
done
for case in "missing image folder:missing-images:missing-images" "empty image folder:empty-images:empty-images" \
            "truncated PNG:truncated-images:cut.png" "text named .png:text-images:text.png"; do
  IFS=: read -r input folder named <<< "$case"
  printf '[data]\nkind = "image-folder"\nroot = "%s"\n[train]\nepochs = 1\ndevice = "cpu"\n' "$folder" \
    > "$work/$folder.toml"
  audit "train CONFIG" "$input" "$named" train "$folder.toml"
done

# MATLAB annotation files (Oxford Flowers 102 through `diffmix dataset`): a .mat header with nothing after it, and
# text in place of the file.
for variant in truncated text; do
  mkdir -p "$work/$variant-flowers/jpg"
  printf '[data]\nkind = "flowers102"\nroot = "%s"\nsplit = "train"\n' "$variant-flowers" > "$work/$variant-flowers.toml"
done
# A MAT-file v5 header (116 bytes of text, 8 of subsystem offset, version 0x0100, "IM" for little-endian).
printf '%-116s' 'MATLAB 5.0 MAT-file, written by scripts/bad-input-audit.sh' > "$work/truncated-flowers/imagelabels.mat"
printf '\0\0\0\0\0\0\0\0\0\001IM' >> "$work/truncated-flowers/imagelabels.mat"
echo "labels = [1 2 3]" > "$work/text-flowers/imagelabels.mat"
audit "dataset CONFIG" "truncated .mat file" imagelabels.mat dataset truncated-flowers.toml
audit "dataset CONFIG" "text as .mat file" imagelabels.mat dataset text-flowers.toml

table=$work/table.md
{
  echo "| command | input | exit | what it prints |"
  echo "|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "${#rows[@]} cases, written by \`scripts/bad-input-audit.sh\` (\`--check\` runs the same cases in the test suite)."
} > "$table"

if [ "$mode" != "--check" ]; then
  awk -v file="$table" '
    $0 == "<!-- results:bad_input_audit:begin -->" { print; while ((getline line < file) > 0) print line; skip = 1; next }
    $0 == "<!-- results:bad_input_audit:end -->" { skip = 0 }
    !skip { print }' docs/errors.md > docs/errors.md.tmp && mv docs/errors.md.tmp docs/errors.md
  echo "docs/errors.md: ${#rows[@]} cases, $failures broke a rule"
fi
[ "$failures" -eq 0 ]
