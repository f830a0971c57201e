#!/usr/bin/env bash
# Peak memory and time of one 512 px img2img image, diffmix (`diffmix sd img2img`) beside diffusers
# (StableDiffusionImg2ImgPipeline, scripts/diffusers_img2img.py), on the same random SD1.5-size weights, reference
# image, prompt, strength, steps, guidance, seed and threads, fp32 on the CPU:
#
#   scripts/sd-img2img-memory.sh
#
#   THREADS=2 STEPS=4 STRENGTH=0.5    threads, DPM-Solver++ steps, SDEdit strength (int(STEPS x STRENGTH) are run)
#   DIFFUSERS_PYTHON=python3          a Python that imports diffusers (0.27) and torch; without one, diffmix alone
#   DIFFMIX_BENCH_SD15_DIR=/tmp/diffmix-bench-sd15    the random-weight folder (written once by sd_unet_profile)
#
# Peak memory is each process's resident high-water mark over its whole life, loading the weights included
# (/usr/bin/time for diffmix, VmHWM for diffusers, which also reports its peak over the pipeline call alone).
set -euo pipefail
cd "$(dirname "$0")/.."

threads=${THREADS:-2}
steps=${STEPS:-4}
strength=${STRENGTH:-0.5}
python=${DIFFUSERS_PYTHON:-python3}
folder=${DIFFMIX_BENCH_SD15_DIR:-/tmp/diffmix-bench-sd15}
diffmix=${DIFFMIX:-build/bin/diffmix}
profile=build/tests/bench/sd/sd_unet_profile
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing: apt install time" >&2; exit 1; }
if [ ! -f "$folder/model_index.json" ]; then
  DIFFMIX_BENCH_SD15_DIR=$folder "$profile" --sd15 --latent 8 --steps 1 > /dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A 512x512 reference: a smooth colour gradient with a disc, so that the VAE encodes something that is not flat.
python3 - "$work/reference.png" <<'PYTHON'
import sys, zlib, struct
size = 512
rows = []
for y in range(size):
    row = bytearray([0])
    for x in range(size):
        inside = (x - 256) ** 2 + (y - 300) ** 2 < 120 ** 2
        row += bytes((x // 2, y // 2, 200 if inside else 60))
    rows.append(bytes(row))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PYTHON

prompt="a photo of a bird"
OMP_NUM_THREADS=$threads /usr/bin/time -f "%M %e" -o "$work/diffmix.time" \
  "$diffmix" sd img2img --model "$folder" --prompt "$prompt" --image "$work/reference.png" --strength "$strength" \
  --steps "$steps" --guidance 7.5 --seed 0 --out "$work/diffmix" > "$work/diffmix.log" 2>&1 ||
  { cat "$work/diffmix.log" >&2; exit 1; }
read -r diffmix_kib diffmix_s < "$work/diffmix.time"

echo "512x512 img2img, strength $strength, $steps DPM-Solver++ steps ($(awk -v s="$steps" -v t="$strength" \
  'BEGIN { print int(s * t) }') run), guidance 7.5, fp32, $threads threads, random SD1.5-size weights"
awk -v k="$diffmix_kib" -v s="$diffmix_s" 'BEGIN { printf "  diffmix    peak RSS %6.0f MiB (process)                     %6.1f s (process)\n", k / 1024, s }'
if ! "$python" -c "import diffusers, torch" 2> /dev/null; then
  echo "($python cannot import diffusers: set DIFFUSERS_PYTHON to compare)"
  exit 0
fi
OMP_NUM_THREADS=$threads /usr/bin/time -f "%e" -o "$work/diffusers.time" \
  "$python" scripts/diffusers_img2img.py --model "$folder" --image "$work/reference.png" --prompt "$prompt" \
  --strength "$strength" --steps "$steps" --guidance 7.5 --seed 0 --threads "$threads" > "$work/diffusers.json" 2> "$work/diffusers.log" ||
  { cat "$work/diffusers.log" >&2; exit 1; }
python3 - "$work/diffusers.json" "$(cat "$work/diffusers.time")" "$diffmix_kib" <<'PYTHON'
import json, sys
theirs = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
process_s, ours_mib = float(sys.argv[2]), int(sys.argv[3]) / 1024
print(f"  diffusers  peak RSS {theirs['peak_rss_mib_process']:6.0f} MiB (process), {theirs['peak_rss_mib_call']:6.0f} MiB "
      f"(pipeline call)   {process_s:6.1f} s (process), {theirs['seconds']:.1f} s (pipeline call)")
print(f"  diffmix / diffusers peak RSS: {ours_mib / theirs['peak_rss_mib_process']:.2f}x of its process, "
      f"{ours_mib / theirs['peak_rss_mib_call']:.2f}x of its pipeline call alone")
PYTHON
