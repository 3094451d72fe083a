#!/bin/sh
# Installs what the test suite needs: redis-server and redis-sentinel, python3-venv, nginx and wrk for
# the benchmark's smoke run, chromium and chromium-driver for the Dashboard's browser test (Debian's
# packages, only when missing) and a virtual environment .venv with the exact versions of
# requirements/lock.txt (the dependencies, the test extra and the build backend, hash-checked) and the
# gateway itself, editable. Idempotent.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
apt_install() {
    $SUDO apt-get install -y -q "$@" >/dev/null 2>&1 \
        || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q "$@" >/dev/null; }
}
# The Debian package may also start a system redis on 6379; the tests never use it (they start their
# own on a free loopback port), so it is left alone.
command -v redis-server >/dev/null 2>&1 || apt_install redis-server
# The Sentinel tests run Debian's redis-sentinel (the Cluster tests use redis-server and redis-cli).
command -v redis-sentinel >/dev/null 2>&1 || apt_install redis-sentinel
# The benchmark (python -m bench) measures with wrk against nginx anchors; the suite runs it briefly.
command -v nginx >/dev/null 2>&1 || apt_install nginx
command -v wrk >/dev/null 2>&1 || apt_install wrk
# The Dashboard's browser test drives Debian's Chromium headless through its chromedriver, at fixed paths.
[ -x /usr/bin/chromium ] || apt_install chromium
[ -x /usr/bin/chromedriver ] || apt_install chromium-driver
# Debian's python3 ships venv without ensurepip; its python3-venv package completes it.
python3 -c "import ensurepip" >/dev/null 2>&1 || apt_install python3-venv
[ -x .venv/bin/python ] || python3 -m venv .venv
# Only the lock's versions, so a new release never turns CI red; `sh requirements/refresh.sh` updates it.
.venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements/lock.txt
# The gateway without dependencies, built by the locked setuptools: nothing unlocked gets installed.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
