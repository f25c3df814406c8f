#!/usr/bin/env bash
# Set up the environment and run the test suite. Offline: no API key, no network.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
.venv/bin/python -m pytest -q "$@"
