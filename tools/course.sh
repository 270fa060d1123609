#!/usr/bin/env bash
# Set up .venv and open the course in JupyterLab (Ctrl-C to stop). Extra arguments go to `jupyter lab`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
cd nbs
exec ../.venv/bin/jupyter lab index.ipynb $( [ "$(id -u)" = 0 ] && echo --allow-root ) "$@"
