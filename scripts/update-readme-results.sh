#!/usr/bin/env bash
# Rewrites the Fashion-MNIST results in README.md from finished runs, so that the figures there are never typed:
#
#   scripts/update-readme-results.sh [RUN_DIR]      # default runs/fmnist_diffmix
#
# Needs `diffmix compare configs/fmnist_diffmix.toml` (RUN_DIR/summary.md) and the oracle
# (`diffmix train configs/fmnist_oracle.toml`) finished. Replaces the text between the markers
# <!-- results:NAME:begin --> and <!-- results:NAME:end --> for NAME = fmnist_diffmix_table and fmnist_oracle.
set -euo pipefail
cd "$(dirname "$0")/.."

run_dir=${1:-runs/fmnist_diffmix}
diffmix=${DIFFMIX:-build/bin/diffmix}
readme=README.md

# replace_block NAME FILE: the lines between NAME's markers become FILE's contents.
replace_block() {
  local name=$1 file=$2
  grep -q "<!-- results:$name:begin -->" "$readme" || { echo "$readme: no marker results:$name:begin" >&2; exit 1; }
  awk -v name="$name" -v file="$file" '
    $0 == "<!-- results:" name ":begin -->" { print; while ((getline line < file) > 0) print line; skip = 1; next }
    $0 == "<!-- results:" name ":end -->" { skip = 0 }
    !skip { print }' "$readme" > "$readme.tmp"
  mv "$readme.tmp" "$readme"
}

[ -f "$run_dir/summary.md" ] || { echo "$run_dir/summary.md is missing: run diffmix compare configs/fmnist_diffmix.toml" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

{
  cat "$run_dir/summary.md"
  echo
  echo "Top-1 on the 2,000-image test subset after 15 epochs; $(tail -n +2 "$run_dir/results.csv" | wc -l) runs, from"
  echo "\`$run_dir/summary.md\`, written by \`diffmix compare configs/fmnist_diffmix.toml\`."
} > "$work/table.md"
replace_block fmnist_diffmix_table "$work/table.md"

caches=()
for augmenter in real_gen real_aug real_mix da_fusion diff_gen diff_aug diff_mix; do
  [ -f "$run_dir/cache/$augmenter/seed-0/manifest.jsonl" ] && caches+=(--cache "$run_dir/cache/$augmenter/seed-0")
done
{
  echo '```'
  echo "\$ diffmix oracle configs/fmnist_oracle.toml ${caches[*]}"
  "$diffmix" --log-level warn oracle configs/fmnist_oracle.toml "${caches[@]}"
  echo '```'
} > "$work/oracle.md"
replace_block fmnist_oracle "$work/oracle.md"
echo "README.md updated from $run_dir and the oracle (runs/fmnist_oracle)"
