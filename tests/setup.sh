#!/bin/sh
# Installs what the test suite needs: redis-server (Debian's package, only when missing) and a
# virtual environment .venv with the gateway and its test extras. Idempotent; safe to run again.
set -eu
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get install -y -q redis-server >/dev/null 2>&1 \
        || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q redis-server >/dev/null; }
fi
# The Debian package may start a system redis on 6379; the tests never use it (they start their own
# on a free loopback port), so it is left alone.
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
