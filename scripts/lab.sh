#!/usr/bin/env bash
# JupyterLab on this repository with its own settings: notebooks/NN_*.py open as notebooks on a
# double-click (.jupyter/lab/user-settings). Your global JupyterLab settings are neither read nor
# changed; workspaces go to .jupyter/lab/workspaces (git-ignored). Extra arguments go to jupyter lab.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"
export JUPYTERLAB_SETTINGS_DIR="$repo/.jupyter/lab/user-settings"
export JUPYTERLAB_WORKSPACES_DIR="$repo/.jupyter/lab/workspaces"
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
cd "$repo"
exec "$python" -m jupyter lab "$@"
