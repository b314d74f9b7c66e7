# Shared by scripts/serve and scripts/test: make sure the build toolchain is reachable.
# shellcheck shell=bash
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$HOME/.cargo/bin:/root/.cargo/bin:$PATH"

ensure_toolchain() {
    if ! command -v cargo >/dev/null; then
        echo "[centralita] cargo not found: installing Debian's Rust toolchain" >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cargo rustc gcc libc6-dev >/dev/null
    fi
    command -v cc >/dev/null || {
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null
    }
}
