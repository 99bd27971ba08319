#!/usr/bin/env bash
# The whole test suite: what CI runs (.ci/run) and what a contributor runs.
# Works on a fresh Debian machine with the Rust toolchain; installs what the
# tests need, idempotently, and leaves no service running.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

# Tools the integration tests drive: coreutils, util-linux (setsid,
# setpriv for a second uid, rev), procps (kill), python3 (a hand-written
# client of the daemon's socket).
missing=()
for tool in sh base64 od tr readlink setsid setpriv rev kill timeout python3; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
    log "installing Debian packages for: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq coreutils util-linux bsdextrautils procps python3 >/dev/null
fi

# The MCP tests drive warrant with the official MCP Python SDK (a client we
# did not write), and the proxy tests with Python requests, installed from
# PyPI into target/pydeps once.
pydeps="$PWD/target/pydeps"
if ! PYTHONPATH="$pydeps" python3 -c 'import mcp, requests' >/dev/null 2>&1; then
    log "installing the MCP Python SDK and requests into $pydeps"
    if ! python3 -m pip --version >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
    fi
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$pydeps" 'mcp==2.3.0' 'requests==2.34.2'
fi
export WARRANT_TEST_PYDEPS="$pydeps"

# The proxy tests drive warrant with real HTTP clients: curl, git (its
# http-backend serves the test repository), Python requests (above) and
# Node's fetch through undici's EnvHttpProxyAgent (Node 20's built-in fetch
# ignores HTTPS_PROXY), installed from npm into target/nodedeps once.
missing=()
for tool in curl git node npm; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
    log "installing Debian packages for: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq curl git nodejs npm >/dev/null
fi
nodedeps="$PWD/target/nodedeps"
if ! NODE_PATH="$nodedeps/node_modules" node -e 'process.exit(require("undici").EnvHttpProxyAgent ? 0 : 1)' >/dev/null 2>&1; then
    log "installing undici into $nodedeps"
    mkdir -p "$nodedeps"
    npm install --silent --no-audit --no-fund --no-save --prefix "$nodedeps" 'undici@6.29.1'
fi
export WARRANT_TEST_NODEDEPS="$nodedeps"

# --- real servers: PostgreSQL (being written) ---

# --- real servers: OpenBao (being written) ---

log "format"
cargo fmt --all --check

log "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

log "tests"
cargo test --workspace --locked

log "fuzz (short runs)"
scripts/fuzz.sh redact 20
scripts/fuzz.sh env_file 20
scripts/fuzz.sh policy 20
scripts/fuzz.sh protocol 20
scripts/fuzz.sh mcp_config 20
scripts/fuzz.sh scan 20
