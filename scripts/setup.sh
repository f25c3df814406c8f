#!/usr/bin/env bash
# Create .venv (once) with Python 3.11, install ppol_nb with its test extras (and the train extra
# with PPOL_TRAIN_EXTRA=1), and fetch the human corpora the tests and notebooks read when no data
# folder has them yet. Also installs
# bubblewrap (the sandbox of LLM-written generator programs) when it is missing and this is a
# Debian-like machine where we are root; elsewhere, see README.
# Sourced by notebooks.sh and test.sh; run from the repository root.
set -euo pipefail
if ! command -v bwrap >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing bubblewrap (sandbox for generator programs)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
fi
# Chromium and its driver: the blinded-study browser test (tests/test_blinded_study_browser.py).
if ! command -v chromedriver >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium and chromium-driver (browser test of the annotation app)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi
command -v chromedriver >/dev/null 2>&1 || echo "note: chromium/chromedriver are not installed: the annotation-app browser test is skipped (fails under CI=true)" >&2
command -v bwrap >/dev/null 2>&1 || echo "note: bubblewrap (bwrap) is not installed: LLM-written generator programs will be refused (see README)" >&2
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
# The LoRA recipe's extra (torch, transformers, trl, peft) only when asked: PPOL_TRAIN_EXTRA=1 (CI sets it,
# so tests/test_lora_recipe.py trains a tiny model on CPU; without the extra that test is skipped with the
# reason). torch first: the CPU build when this exact one is available (a local wheel), else whatever pip
# picks (usually the CUDA build on a researcher's machine).
if [ -n "${PPOL_TRAIN_EXTRA:-}" ]; then
  if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
    .venv/bin/python -m pip install --quiet "torch==2.13.0+cpu" 2>/dev/null \
      || .venv/bin/python -m pip install --quiet torch
  fi
  .venv/bin/python -m pip install --quiet -e ".[test,train]"
fi
# MultiWOZ and the ABCD sample: nothing happens when $PPOL_DATA_DIR, ../shared (CI) or the user
# data directory already has them; otherwise they are downloaded and checksum-verified.
if ! .venv/bin/ppol-nb data fetch multiwoz abcd --if-missing; then
  echo "setup: the human corpora above are missing and could not be fetched. Tests and notebooks that" \
       "read them will fail with an error naming 'ppol-nb data fetch NAME'; run it when online, or set" \
       "PPOL_DATA_DIR (or PPOL_SHARED_DIR) to a folder that has them." >&2
fi
