#!/usr/bin/env bash
# Regenerate requirements.lock: the exact versions `make test`, `make demo` and
# `make bench` install. Resolves pyproject's dependencies (all extras) in a
# throw-away virtual environment and freezes what pip chose.
# Usage: scripts/lock.sh [PYTHON]   (make lock)
set -euo pipefail
cd "$(dirname "$0")/.."
python="${1:-python3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check '.[dev]'
{
    echo "# requirements.lock: the exact versions Lifeline is tested with (all extras and dev tools)."
    echo "# Made by 'make lock' on $("$tmp/venv/bin/python" -c 'import platform; print("Python", platform.python_version())'); edit pyproject.toml, then run 'make lock'."
    echo "# Used as a pip constraints file: pip install -c requirements.lock '.[edge]' installs these versions."
    "$tmp/venv/bin/python" -m pip freeze --disable-pip-version-check --exclude-editable --all \
        | grep -v -E '^(lifeline|pip|setuptools|wheel)([=@ ]|$)' | LC_ALL=C sort -f
} > requirements.lock.new
mv requirements.lock.new requirements.lock
echo "wrote requirements.lock ($(grep -c '==' requirements.lock) pins)"
