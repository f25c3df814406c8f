#!/usr/bin/env bash
# Create .venv (once) with Python 3.11 and install ppol_nb with its test extras.
# Also installs bubblewrap (the sandbox of LLM-written generator programs) when it is
# missing and this is a Debian-like machine where we are root; elsewhere, see README.
# Sourced by notebooks.sh and test.sh; run from the repository root.
set -euo pipefail
if ! command -v bwrap >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing bubblewrap (sandbox for generator programs)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
fi
command -v bwrap >/dev/null 2>&1 || echo "note: bubblewrap (bwrap) is not installed: LLM-written generator programs will be refused (see README)" >&2
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
