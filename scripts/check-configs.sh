#!/usr/bin/env bash
# Checks every config that ships in configs/: each names the command that runs it (a line "diffmix <command> <its
# path>" in its comments), and that command reads it with --check, which checks every key and value without opening
# any dataset, model or plugin. Also checks that configs/paper is what scripts/paper-configs.sh writes.
#
#   scripts/check-configs.sh      # DIFFMIX overrides the binary (default build/bin/diffmix); $(nproc) at a time
set -uo pipefail
cd "$(dirname "$0")/.."
export DIFFMIX=${DIFFMIX:-build/bin/diffmix}

# check_one CONFIG: prints nothing when the config is read by its command, else what went wrong; exits 1 then.
check_one() {
  local config=$1 command output
  command=$(grep -oE "diffmix (train|compare|finetune|synthesize|pretrain) $config\b" "$config" | head -1 | cut -d' ' -f2)
  if [ -z "$command" ]; then
    echo "FAILED: $config does not say which command runs it (a comment line 'diffmix <command> $config')"
    return 1
  fi
  if ! output=$("$DIFFMIX" "$command" --check "$config" 2>&1); then
    echo "FAILED: diffmix $command --check $config"
    echo "$output" | sed 's/^/    /'
    return 1
  fi
}
export -f check_one

failed=0
configs=$(find configs -name '*.toml' | sort)
if ! find configs -name '*.toml' | sort | xargs -P "$(nproc)" -I{} bash -c 'check_one "$1"' _ {} >&2; then failed=1; fi
./scripts/paper-configs.sh --check || failed=1
echo "$(echo "$configs" | wc -l) configs, each read by the command that runs it$([ $failed = 0 ] || echo ', with failures above')"
exit $failed
