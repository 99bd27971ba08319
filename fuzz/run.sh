#!/usr/bin/env bash
# Runs one fuzz target for a while: fuzz/run.sh TARGET SECONDS
#
# Works on the stable toolchain: without a sanitizer (--sanitizer none)
# cargo-fuzz passes rustc only stable flags (-Cpasses=sancov-module,
# -Cllvm-args=..., --cfg fuzzing). AddressSanitizer would need the nightly-only
# -Zsanitizer; the code under test forbids unsafe, so it adds little here.
# cargo-fuzz itself is installed from crates.io when missing. A crash exits
# non-zero and leaves its input in fuzz/artifacts/TARGET/.
set -euo pipefail

if (($# != 2)); then
    echo "usage: $0 TARGET SECONDS" >&2
    exit 2
fi
target=$1
seconds=$2
cd "$(dirname "$0")"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz
fi

mkdir -p "corpus/$target"
# Committed seeds (valid inputs the fuzzer would take long to find) join the
# working corpus; new finds go to the first directory only.
seeds=()
if [[ -d "seeds/$target" ]]; then
    seeds=("seeds/$target")
fi
exec cargo fuzz run "$target" --sanitizer none "corpus/$target" "${seeds[@]}" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1
