#!/usr/bin/env bash
# A CUDA build of LibTorch with nccl.h present compiles the runtime with c10d's NCCL backend. No CUDA is needed to
# check the wiring: configure the tree as such a build would be (nccl.h found, TORCH_CUDA_LIBRARIES set) and look
# at the runtime's compile commands.
set -euo pipefail
build_dir=$1
source_dir=$2
scratch=$build_dir/nccl-configure-test
rm -rf "$scratch"
mkdir -p "$scratch/include"
touch "$scratch/include/nccl.h"
compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build_dir/CMakeCache.txt")
cmake -S "$source_dir" -B "$scratch/build" -G Ninja -DCMAKE_CXX_COMPILER="$compiler" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  -DDIFFMIX_BUILD_BENCH=OFF -DNCCL_INCLUDE_DIR="$scratch/include" -DTORCH_CUDA_LIBRARIES=cuda > "$scratch/configure.log"
grep -q "the NCCL backend is on" "$scratch/configure.log"
runtime_commands=$(grep '"command"' "$scratch/build/compile_commands.json" | grep -- '-o host/CMakeFiles/diffmix.dir/')
for definition in -DUSE_C10D_NCCL -DDIFFMIX_WITH_NCCL=1 -DUSE_C10D_GLOO; do
  if grep -qv -- "$definition" <<< "$runtime_commands"; then
    echo "a runtime source compiles without $definition" >&2
    exit 1
  fi
done
rm -rf "$scratch"
echo "the runtime compiles with c10d's NCCL backend when nccl.h and CUDA LibTorch are found"
