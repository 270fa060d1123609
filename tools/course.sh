#!/usr/bin/env bash
# Set up .venv (once; later starts skip the install) and open the course in JupyterLab (Ctrl-C to stop).
# Extra arguments go to `jupyter lab`, e.g. --no-browser or --port=8890.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh

# No "Would you like to get notified about official Jupyter news?" toast, and no update check: defaults for this
# JupyterLab only, in the settings overrides it reads from its sys.prefix (here .venv/share/jupyter/lab/settings).
# Merged into an existing overrides.json; settings the learner changes in JupyterLab still win over these.
.venv/bin/python -I -S -c '
import json, os, sys
path = sys.argv[1]
try:
    with open(path, encoding="utf-8") as f: overrides = json.load(f)
except (OSError, ValueError): overrides = {}
overrides.setdefault("@jupyterlab/apputils-extension:notification", {}).update(fetchNews="false", checkForUpdates=False)
os.makedirs(os.path.dirname(path), exist_ok=True)
tmp = f"{path}.{os.getpid()}.tmp"
with open(tmp, "w", encoding="utf-8") as f: json.dump(overrides, f, indent=2)
os.replace(tmp, path)' .venv/share/jupyter/lab/settings/overrides.json

# As if the venv were activated: the notebooks' `!` commands and JupyterLab's terminals find its python, pip, nbdev_*
# and backprop-train. The kernels run the venv's Python, where the editable install makes `import backprop_nbdev`
# load this clone's package, which the notebooks' last cell (nbdev_export) rewrites.
export VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH"
root=(); [ "$(id -u)" = 0 ] && root=(--allow-root)
lab=$PWD/.venv/bin/jupyter-lab
config=$PWD/tools/jupyter_server_config.py   # optional extras for the playground (see the file)
cd nbs
# the URL JupyterLab prints (and opens) is the index, not the Launcher
exec "$lab" index.ipynb --config="$config" --LabApp.default_url=/lab/tree/index.ipynb \
    ${root[@]+"${root[@]}"} "$@"
