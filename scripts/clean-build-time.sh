#!/usr/bin/env bash
# How long a clean build of the tree takes here: a fresh clone of HEAD (or $COMMIT), configured and built with every
# core and without ccache, as README's commands do on a new machine. Extra arguments go to the configure step, e.g.
#
#   scripts/clean-build-time.sh                           # the default build (unity batches)
#   scripts/clean-build-time.sh -DDIFFMIX_UNITY_BUILD=OFF # one translation unit per source file
#   COMMIT=143954b scripts/clean-build-time.sh            # another commit of this repository, to compare with
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q . "$work/diffmix"
cd "$work/diffmix"
git checkout -q "${COMMIT:-HEAD}"
export CCACHE_DISABLE=1
start=$(date +%s)
cmake -S . -B build -G Ninja "$@" > "$work/configure.log"
configured=$(date +%s)
cmake --build build -j"$(nproc)" > "$work/build.log"
built=$(date +%s)
steps=$(grep -c '^\[' "$work/build.log" || true)
echo "clean build of $(git rev-parse --short HEAD) ${*:-(default options)}, $(nproc) cores, no ccache:"
printf '  configure %4d s\n  build     %4d s (%d steps)\n  total     %d min %02d s\n' \
  $((configured - start)) $((built - configured)) "$steps" $(((built - start) / 60)) $(((built - start) % 60))
# Where the time went, from Ninja's log: the compiler's seconds summed over every step (what more cores would
# share), and the slowest steps (what bounds the build however many cores there are).
awk 'NR > 1 { print ($2 - $1) / 1000, $4 }' build/.ninja_log > "$work/steps.txt"
awk '{ total += $1 } END { printf "  compiler time %d s in all\n", total }' "$work/steps.txt"
echo "  slowest steps:"
sort -rn "$work/steps.txt" | head -8 | awk '{ printf "    %5.1f s  %s\n", $1, $2 }'
