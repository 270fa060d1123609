#!/usr/bin/env bash
# Create .venv (if missing) and install the CPU build of PyTorch, then this package with its dev extras.
# Idempotent: re-running only installs what is missing. Override the interpreter with PYTHON=..., the torch pin with TORCH_SPEC=...
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip() { .venv/bin/python -m pip -q --disable-pip-version-check "$@" 2> >(grep -v -e '^WARNING: Location' -e 'BuildBackendWarning' >&2); }
pip install --upgrade pip
# torch first and pinned: an unpinned torch can pull a multi-GB CUDA build
pip install "$TORCH_SPEC"
pip install -e ".[dev]"
