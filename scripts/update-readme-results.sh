#!/usr/bin/env bash
# Rewrites the Fashion-MNIST results in README.md and docs/fmnist.md from finished runs, so that the figures there
# are never typed:
#
#   scripts/update-readme-results.sh [RUN_DIR]      # default runs/fmnist_diffmix
#
# Needs `diffmix compare configs/fmnist_diffmix.toml` (RUN_DIR/summary.md) and the oracle
# (`diffmix train configs/fmnist_oracle.toml`) finished, and jq. Replaces the text between the markers
# <!-- results:NAME:begin --> and <!-- results:NAME:end --> for NAME = fmnist_diffmix_table and fmnist_oracle
# (README.md) and fmnist_oracle_classes (docs/fmnist.md); and quickstart_table (README.md) from runs/quickstart
# when `diffmix compare configs/quickstart.toml` has finished.
set -euo pipefail
cd "$(dirname "$0")/.."

run_dir=${1:-runs/fmnist_diffmix}
diffmix=${DIFFMIX:-build/bin/diffmix}
oracle_dir=runs/fmnist_oracle

# replace_block DOCUMENT NAME FILE: the lines between NAME's markers in DOCUMENT become FILE's contents.
replace_block() {
  local document=$1 name=$2 file=$3
  grep -q "<!-- results:$name:begin -->" "$document" || { echo "$document: no marker results:$name:begin" >&2; exit 1; }
  awk -v name="$name" -v file="$file" '
    $0 == "<!-- results:" name ":begin -->" { print; while ((getline line < file) > 0) print line; skip = 1; next }
    $0 == "<!-- results:" name ":end -->" { skip = 0 }
    !skip { print }' "$document" > "$document.tmp"
  mv "$document.tmp" "$document"
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
replace_block README.md fmnist_diffmix_table "$work/table.md"

caches=()
for augmenter in real_gen real_aug real_mix da_fusion diff_gen diff_aug diff_mix; do
  [ -f "$run_dir/cache/$augmenter/seed-0/manifest.jsonl" ] && caches+=(--cache "$run_dir/cache/$augmenter/seed-0")
done
[ -f "$oracle_dir/result.json" ] || { echo "$oracle_dir/result.json is missing: run diffmix train configs/fmnist_oracle.toml" >&2; exit 1; }
"$diffmix" --log-level warn oracle configs/fmnist_oracle.toml "${caches[@]}" --json "$work/oracle.json" > /dev/null
{
  jq -r '"| set-up (seed 0) | samples | recognised as their target class | P(target) by strength | P(source) by strength |",
         "|---|---|---|---|---|",
         (.[] | "| \(.cache | split("/")[-2]) | \(.samples) | \(.target_top1 * 1000 | round / 10) % | " +
                ([.by_strength[] | "\(.strength): \(.target_probability * 1000 | round / 1000)"] | join(" · ")) + " | " +
                ([.by_strength[] | "\(.strength): \(.source_probability * 1000 | round / 1000)"] | join(" · ")) + " |")' \
     "$work/oracle.json"
  echo
  jq -r '"The oracle itself reaches \(.top1 * 10000 | round / 100) % top-1 on the \(.test_size) test images after \(.epochs) epochs"' \
     "$oracle_dir/result.json"
  echo "(\`$oracle_dir/result.json\`); the table is \`diffmix oracle configs/fmnist_oracle.toml\` on the caches of seed 0."
} > "$work/oracle.md"
replace_block README.md fmnist_oracle "$work/oracle.md"

{
  jq -r '"| target class | " + ([.[] | .cache | split("/")[-2]] | join(" | ")) + " |",
         "|---|" + ([.[] | "---"] | join("|")) + "|",
         (. as $all | [.[0].by_class[].class] | to_entries[] as $c |
           "| \($c.value) | " + ([$all[] | .by_class[$c.key] |
             "\(.target_top1 * 1000 | round / 10) %" + (if .mistaken_for == "" then "" else
               " (\(.mistaken_for) \(.mistaken_share * 100 | round) %)" end)] | join(" | ")) + " |")' \
     "$work/oracle.json"
  echo
  echo "Share of each class's seed-0 samples the oracle recognises, and in brackets the class it most often takes the"
  echo "others for; from \`diffmix oracle configs/fmnist_oracle.toml\` on \`$run_dir/cache/*/seed-0\`."
} > "$work/classes.md"
replace_block docs/fmnist.md fmnist_oracle_classes "$work/classes.md"
if [ -f runs/quickstart/summary.md ]; then
  {
    cat runs/quickstart/summary.md
    echo
    echo "From \`runs/quickstart/summary.md\`, written by \`diffmix compare configs/quickstart.toml\`."
  } > "$work/quickstart.md"
  replace_block README.md quickstart_table "$work/quickstart.md"
fi
echo "README.md and docs/fmnist.md updated from $run_dir, the oracle ($oracle_dir) and runs/quickstart"
