#!/usr/bin/env bash
# Set up the environment and execute every notebook in notebooks/ in order with
# papermill on the offline default. Executed copies: runs/notebooks/; figures: figures/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
.venv/bin/ppol-nb notebooks --out runs/notebooks "$@"
