#!/usr/bin/env bash
# diffmix's UNet step beside diffusers' on the same machine, the same LibTorch, the same random SD1.5-size weights,
# threads and shapes (batch 2, as with classifier-free guidance), with the ratio and where each spends its time:
#
#   scripts/sd-side-by-side.sh [LATENT ...]        # default: latents 32 and 64 (256 and 512 px images)
#
#   THREADS=2 STEPS=3                 threads of both engines, timed steps after one warm-up
#   DIFFUSERS_PYTHON=python3          a Python that imports diffusers (0.27) and torch; without one, diffmix alone
#   DIFFMIX_BENCH_SD15_DIR=/tmp/diffmix-bench-sd15    the random-weight folder (4.3 GB, written once)
#
# diffmix's side is build/tests/bench/sd/sd_unet_profile (a Release build with benchmarks, the default); diffusers'
# side is scripts/diffusers_unet_step.py --ops. Both time the median of the steps, then profile operators apart.
set -euo pipefail
cd "$(dirname "$0")/.."

threads=${THREADS:-2}
steps=${STEPS:-3}
python=${DIFFUSERS_PYTHON:-python3}
folder=${DIFFMIX_BENCH_SD15_DIR:-/tmp/diffmix-bench-sd15}
profile=build/tests/bench/sd/sd_unet_profile
latents=("$@")
[ ${#latents[@]} -gt 0 ] || latents=(32 64)
[ -x "$profile" ] || { echo "$profile is missing: cmake --build build --target sd_unet_profile" >&2; exit 1; }

have_diffusers=1
"$python" -c "import diffusers, torch" 2> /dev/null || {
  have_diffusers=0
  echo "($python cannot import diffusers: timing diffmix alone; set DIFFUSERS_PYTHON to compare)"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for latent in "${latents[@]}"; do
  DIFFMIX_BENCH_SD15_DIR=$folder "$profile" --sd15 --latent "$latent" --threads "$threads" --steps "$steps" \
    --json "$work/diffmix-$latent.json" > "$work/diffmix-$latent.log"
  if [ $have_diffusers = 1 ]; then
    "$python" scripts/diffusers_unet_step.py --model "$folder" --latent "$latent" --threads "$threads" \
      --steps "$steps" --ops --json "$work/diffusers-$latent.json" > "$work/diffusers-$latent.log"
  fi
done

python3 - "$work" "${latents[@]}" <<'PYTHON'
import json, os, sys

work, latents = sys.argv[1], sys.argv[2:]
def load(engine, latent):
    path = os.path.join(work, f"{engine}-{latent}.json")
    return json.load(open(path)) if os.path.exists(path) else None

for latent in latents:
    ours, theirs = load("diffmix", latent), load("diffusers", latent)
    print(f"\nUNet step, latent {latent}x{latent}, batch {ours['batch']}, {ours['threads']} threads "
          f"(median of {len(ours['steps_s'])} steps)")
    print(f"  diffmix   {ours['seconds_per_step']:8.3f} s   peak RSS over the steps {ours['peak_rss_mib']:8.0f} MiB")
    if not theirs:
        continue
    print(f"  diffusers {theirs['seconds_per_step']:8.3f} s   peak RSS over the steps {theirs['peak_rss_mib']:8.0f} MiB")
    print(f"  diffmix / diffusers: {ours['seconds_per_step'] / theirs['seconds_per_step']:.2f}x time, "
          f"{ours['peak_rss_mib'] / theirs['peak_rss_mib']:.2f}x memory")
    mine = {row["name"]: row for row in ours["operators"]}
    other = {row["name"]: row for row in theirs["operators"]}
    names = sorted(set(mine) | set(other), key=lambda n: -max(mine.get(n, {}).get("self_ms", 0),
                                                               other.get(n, {}).get("self_ms", 0)))
    print(f"  {'operator (self ms per step)':<36} {'diffmix':>10} {'calls':>7} {'diffusers':>10} {'calls':>7}")
    for name in names[:18]:
        a, b = mine.get(name, {}), other.get(name, {})
        print(f"  {name:<36} {a.get('self_ms', 0):>10.1f} {a.get('calls', 0):>7g} {b.get('self_ms', 0):>10.1f} "
              f"{b.get('calls', 0):>7g}")
PYTHON
