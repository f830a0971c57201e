#!/usr/bin/env bash
# Installs the build tree into a scratch prefix, builds docs/example_trainer against it and runs it with nothing but
# the installed package: no build-tree plugin path, so the installed plugins must be found on their own.
set -euo pipefail
build_dir=$1
source_dir=$2
prefix=$build_dir/install-test/prefix
example_build=$build_dir/install-test/example

rm -rf "$build_dir/install-test"
cmake --install "$build_dir" --prefix "$prefix" > /dev/null
launcher=()
if command -v ccache > /dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
# The compiler the package was built with (a sanitized package needs its own compiler's sanitizer runtimes).
compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build_dir/CMakeCache.txt")
cmake -S "$source_dir/docs/example_trainer" -B "$example_build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CXX_COMPILER="$compiler" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" > /dev/null
cmake --build "$example_build" > /dev/null
env -u DIFFMIX_PLUGIN_PATH LD_LIBRARY_PATH="$prefix/lib:${LD_LIBRARY_PATH:-}" "$example_build/example_trainer" \
  | tee "$build_dir/install-test/example.log"
# The installed diffmix/version.hpp is the one this build configured.
grep -qx "diffmix $("$build_dir/bin/diffmix" --version | cut -d' ' -f2)" "$build_dir/install-test/example.log"

# Streaming from a sample source: the blend_source test plugin (never installed) is named by the config. Run twice:
# the second run reuses the samples the first one persisted.
stream_config=$build_dir/install-test/stream.toml
cat > "$stream_config" <<TOML
[plugins]
path = ["$build_dir/test-plugins"]
[stream]
cache = "$build_dir/install-test/stream-cache"
probability = 0.3
synchronous = true
per_epoch = 64
[stream.source]
augmenter = "blend_source"
TOML
for run in 1 2; do
  env -u DIFFMIX_PLUGIN_PATH LD_LIBRARY_PATH="$prefix/lib:${LD_LIBRARY_PATH:-}" "$example_build/example_trainer" \
    "$stream_config"
done
test "$(wc -l < "$build_dir/install-test/stream-cache/manifest.jsonl")" -ge 128
