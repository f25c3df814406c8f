#!/usr/bin/env bash
# Set up the environment, convert every notebooks/NN_*.py percent script with jupytext
# and execute it in order with papermill on the offline default.
# Executed copies: runs/notebooks/; figures (PNG + JSON sidecar): figures/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
.venv/bin/ppol-nb notebooks --out runs/notebooks "$@"
