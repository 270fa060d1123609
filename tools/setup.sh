#!/usr/bin/env bash
# Create .venv (if missing) and install the CPU build of PyTorch, then this package (editable) with its dev extras.
# Runs pip only when needed: after a successful install it leaves a stamp, .venv/.backprop-setup, holding a hash of
# settings.ini, setup.py, pyproject.toml and the torch pin; while these are unchanged and the package still imports
# from this clone, a re-run returns in a fraction of a second. Edit settings.ini (say, a new requirement) and the next
# run installs again. Delete the stamp to force a reinstall.
# Overrides: PYTHON=... (the interpreter that creates .venv), TORCH_SPEC=... (the torch pin).
# `bash tools/setup.sh --check` installs nothing: exit 0 if .venv is set up and current, 1 if a run would install.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
STAMP=.venv/.backprop-setup
VPY=.venv/bin/python

sha256() { if command -v sha256sum >/dev/null; then sha256sum; else shasum -a 256; fi | cut -d' ' -f1; }
# bump the "v2" when the install steps below change in a way existing venvs need
want=$({ echo "backprop-setup v2"; echo "torch: $TORCH_SPEC"; cat settings.ini setup.py pyproject.toml; } | sha256)

# Is the install still intact? Cheap: finds the modules without importing them. -I keeps the current directory off
# sys.path, so backprop_nbdev must come through the editable install and point at this clone's backprop_nbdev/.
intact() {
  "$VPY" -I -c '
import os, sys
from importlib.util import find_spec
s = find_spec("backprop_nbdev")
ok = s is not None and s.origin is not None and os.path.realpath(s.origin) == os.path.realpath(sys.argv[1])
sys.exit(0 if ok and all(find_spec(m) for m in ("torch", "jupyterlab", "nbdev")) else 1)' \
    "$PWD/backprop_nbdev/__init__.py" 2>/dev/null
}

# The stamp's second line is where the clone was: a venv cannot move (its scripts name their python by absolute path),
# so a clone moved or copied elsewhere gets a new .venv.
here=$(pwd -P)
why= new=
if ! "$VPY" -c '' 2>/dev/null; then why='no working .venv' new=1
elif [ ! -f "$STAMP" ]; then why='.venv has not been set up by this script yet'
elif [ "$(sed -n 2p "$STAMP")" != "$here" ]; then why=".venv was made for $(sed -n 2p "$STAMP"), not $here" new=1
elif [ "$(sed -n 1p "$STAMP")" != "$want" ]; then why='settings.ini, setup.py, pyproject.toml or the torch pin changed since the last install'
elif ! intact; then why='the installed package no longer imports from this clone'
fi
if [ "${1:-}" = --check ]; then
  if [ -z "$why" ]; then echo ".venv is set up and current"; exit 0; else echo "setup needed: $why"; exit 1; fi
fi
if [ -z "$why" ]; then echo ".venv is set up (nothing to install)"; exit 0; fi

# pip with its own output and progress bars on stdout. Its stderr goes through a filter that drops Python warnings
# raised inside pip's isolated build environment, such as setuptools' "!! ... Please be careful with folders in your
# working directory ... !!" notice on every editable install (a warning line, then an optional "!!"-framed block,
# then the indented source line), and "WARNING: Location ... is ignored" about index locations in pip's
# configuration. Everything else, errors included, passes; the exit status is pip's.
filter_stderr() {
  awk '
    skip == 0 && /pip-build-env-.*\.py:[0-9]+: [A-Za-z]*Warning: / { skip = 1; next }
    skip == 1 { skip = 0; if ($0 ~ /^ *!!$/) { skip = 2; next } if ($0 ~ /^    /) next }
    skip == 2 { if ($0 ~ /^ *!!$/) skip = 3; next }
    skip == 3 { skip = 0; if ($0 ~ /^    /) next }
    /^WARNING: Location .* is ignored/ { next }
    { print; fflush() }'
}
# Into a new .venv, pip's stdout goes straight to the terminal, with its download and install progress bars. Into an
# existing one (settings changed), it mostly says "Requirement already satisfied" a hundred times: those lines go.
fresh=
pip() {
  if [ -n "$fresh" ]; then { "$VPY" -m pip --disable-pip-version-check "$@" 2>&1 1>&3 3>&- | filter_stderr >&2; } 3>&1
  else { "$VPY" -m pip --disable-pip-version-check "$@" 2>&1 1>&3 3>&- | filter_stderr >&2; } 3>&1 |
         awk '!/^Requirement already satisfied: / { print; fflush() }'
  fi
}

echo "setting up .venv: $why"
if [ -n "$new" ]; then
  command -v "$PYTHON" >/dev/null || { echo "setup: no $PYTHON here: install Python 3.10 or newer, or name one with PYTHON=..." >&2; exit 1; }
  echo "[1/3] creating .venv with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv --clear .venv
  fresh=1
  pip install -q --upgrade pip
else
  echo "[1/3] .venv exists ($("$VPY" --version 2>&1))"
fi
rm -f "$STAMP"
# torch first and pinned: an unpinned torch can pull a multi-GB CUDA build
echo "[2/3] installing PyTorch (CPU): $TORCH_SPEC ..."
pip install "$TORCH_SPEC"
echo "[3/3] installing backprop_nbdev (editable) and JupyterLab with the dev tools ..."
pip install -e ".[dev]"
# what a wheel's data_files put in the environment and an editable install leaves out: the file that
# enables the package's server extension (A10_server) in this environment's Jupyter server
mkdir -p .venv/etc/jupyter/jupyter_server_config.d
cp jupyter-config/jupyter_server_config.d/backprop_nbdev.json .venv/etc/jupyter/jupyter_server_config.d/
intact || { echo "setup: installed, but backprop_nbdev does not import from $PWD" >&2; exit 1; }
printf '%s\n%s\n' "$want" "$here" >"$STAMP"
echo "setup done in ${SECONDS} s: .venv is ready"
