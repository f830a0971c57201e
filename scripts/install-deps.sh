#!/usr/bin/env bash
# Installs every build and run dependency of diffmix from Debian 12's own packages. Safe to run again.
#
#   scripts/install-deps.sh                # what building, running and testing need
#   scripts/install-deps.sh --sanitizers   # and clang, libFuzzer and llvm-symbolizer (scripts/sanitize.sh, fuzz.sh)
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-openmp   # LibTorch 1.13 (CPU); OpenBLAS: the reference BLAS is ~30x slower
  libboost-dev libboost-filesystem-dev libtomlplusplus-dev libspdlog-dev nlohmann-json3-dev libcli11-dev
  libdlpack-dev zlib1g-dev libpng-dev libjpeg-dev libturbojpeg0-dev libicu-dev libmatio-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libgloo-dev                        # c10d's Gloo backend: data-parallel training over processes
  dataset-fashion-mnist              # the real dataset of the embedded default run
  libjs-chart.js                     # the charts of the comparison report (compiled into diffmix)
  chromium                           # the test that opens the report in a real browser
)
if [ "${1:-}" = "--sanitizers" ]; then
  packages+=(clang libclang-rt-dev llvm)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
