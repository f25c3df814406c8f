#!/usr/bin/env bash
# Create .venv (once) with Python 3.11 and install ppol_nb with its test extras.
# Sourced by notebooks.sh and test.sh; run from the repository root.
set -euo pipefail
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
