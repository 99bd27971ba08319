#!/usr/bin/env bash
# Runs one fuzz target briefly: scripts/fuzz.sh TARGET SECONDS (see fuzz/run.sh).
set -euo pipefail
exec "$(dirname "$0")/../fuzz/run.sh" "$@"
