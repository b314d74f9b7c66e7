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

# The audio tools the media tests check our output with, and the offline TTS engine the prompt
# cache renders with (espeak-ng: Spanish, Portuguese and English voices included).
ensure_audio_tools() {
    local missing=()
    command -v sox >/dev/null || missing+=(sox)
    command -v espeak-ng >/dev/null || missing+=(espeak-ng)
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

# The vendor's stack that `cargo bench --bench vendor_stack` measures the engine against (nginx,
# php-fpm with soap and pdo_sqlite), its load generator (wrk), and panoramisk (the Python AMI client
# `cargo bench --bench ami_events` compares with). The bench starts and stops its
# own nginx and php-fpm: packages that would start theirs as system services at install are
# installed with service starts refused (policy-rc.d), and none is left running.
ensure_vendor_stack() {
    local missing=()
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
    command -v php-fpm8.2 >/dev/null || [ -x /usr/sbin/php-fpm8.2 ] || missing+=(php8.2-fpm)
    { command -v php >/dev/null && php -m 2>/dev/null | grep -qi '^soap$'; } || missing+=(php8.2-soap)
    { command -v php >/dev/null && php -m 2>/dev/null | grep -qi '^pdo_sqlite$'; } || missing+=(php8.2-sqlite3)
    command -v wrk >/dev/null || missing+=(wrk)
    # The second AMI consumer of `cargo bench --bench ami_events`, for the system python3.
    /usr/bin/python3 -c "import panoramisk" 2>/dev/null || missing+=(python3-panoramisk)
    if [ ${#missing[@]} -gt 0 ]; then
        local policy=/usr/sbin/policy-rc.d added_policy=0
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy"
            chmod +x "$policy"
            added_policy=1
        fi
        install_packages "${missing[@]}"
        if [ "$added_policy" = 1 ]; then rm -f "$policy"; fi
    fi
}

# The real third-party clients the facade tests drive the engine with: PHP SoapClient, a
# Python virtualenv with zeep, suds and requests (CENTRALITA_PY is its interpreter), and
# headless Chromium as the HTML5 player of recording links.
CLIENTS_VENV=/var/cache/centralita/clients-venv
export CENTRALITA_PY="$CLIENTS_VENV/bin/python"
ensure_facade_clients() {
    local missing=()
    command -v php >/dev/null || missing+=(php8.2-cli)
    { command -v php >/dev/null && php -m 2>/dev/null | grep -qi '^soap$'; } || missing+=(php8.2-soap)
    command -v xmllint >/dev/null || missing+=(libxml2-utils)
    python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
    command -v curl >/dev/null || missing+=(curl)
    command -v chromium >/dev/null || missing+=(chromium)
    if [ ${#missing[@]} -gt 0 ]; then
        install_packages "${missing[@]}"
    fi
    if ! "$CENTRALITA_PY" -c 'import zeep, suds, requests' 2>/dev/null; then
        echo "[centralita] creating the clients' virtualenv in $CLIENTS_VENV" >&2
        mkdir -p "$(dirname "$CLIENTS_VENV")"
        python3 -m venv "$CLIENTS_VENV"
        "$CLIENTS_VENV/bin/pip" install -q --disable-pip-version-check \
            'zeep==4.3.1' 'suds-community==1.2.0' 'requests==2.32.3'
    fi
}
