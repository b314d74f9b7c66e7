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
    # C toolchain for the bundled SQLite and the audio encoders; libgsm to link against.
    local missing=()
    command -v cc >/dev/null || missing+=(gcc libc6-dev)
    command -v make >/dev/null || missing+=(make)
    [ -e /usr/include/gsm.h ] || missing+=(libgsm1-dev)
    if [ ${#missing[@]} -gt 0 ]; then
        install_packages "${missing[@]}"
    fi
}

# The audio tools the media tests check our output with.
ensure_audio_tools() {
    local missing=()
    command -v sox >/dev/null || missing+=(sox)
    command -v lame >/dev/null || missing+=(lame)
    command -v ogginfo >/dev/null || missing+=(vorbis-tools)
    if [ ${#missing[@]} -gt 0 ]; then
        install_packages "${missing[@]}"
    fi
}

install_packages() {
    echo "[centralita] installing Debian packages: $*" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
