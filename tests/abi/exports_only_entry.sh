#!/usr/bin/env bash
# Fails unless the shared library's only defined dynamic symbol is dmx_plugin_entry.
set -euo pipefail
exports=$(nm -D --defined-only "$1" | awk '{print $3}' | sort -u)
if [ "$exports" != "dmx_plugin_entry" ]; then
  echo "$1 exports more than its entry:"
  echo "$exports"
  exit 1
fi
