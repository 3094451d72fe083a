#!/bin/sh
# Regenerates requirements/lock.txt: the exact versions, with hashes, of pyproject.toml's dependencies,
# its `test` extra and its build backend ([build-system] requires, so that the editable install needs
# nothing unlocked), for CPython 3.11 on Linux x86_64 -- what tests/setup.sh and CI install.
#
#   sh requirements/refresh.sh                        # after editing pyproject.toml: keeps the other pins
#   sh requirements/refresh.sh --upgrade              # moves everything to the newest allowed versions
#   sh requirements/refresh.sh --upgrade-package X    # moves X (and what it needs) only
#
# Extra arguments go to `uv pip compile`. Uses `uv` from PATH, or installs it from PyPI into a
# throwaway folder.
set -eu
cd "$(dirname "$0")/.."
if command -v uv >/dev/null 2>&1; then
    UV=uv
else
    tool=$(mktemp -d)
    trap 'rm -rf "$tool"' EXIT
    python3 -m pip install -q --disable-pip-version-check --target "$tool" uv
    UV="$tool/bin/uv"
fi
# The build backend's requirements, read from pyproject.toml so they are stated in one place.
python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))' \
    | "$UV" pip compile pyproject.toml - --extra test \
        --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
        --generate-hashes \
        --custom-compile-command "sh requirements/refresh.sh" \
        --quiet --output-file requirements/lock.txt "$@"
echo "requirements/lock.txt: $(grep -c "^[A-Za-z0-9]" requirements/lock.txt) packages pinned"
