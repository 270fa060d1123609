#!/usr/bin/env bash
# Run every test: the notebooks (nbdev_test) and the pytest suite (tests/). Sets up .venv first if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export MPLBACKEND=Agg
# small tensors: one thread per process is faster than two workers fighting over two cores
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
start=$(date +%s)
.venv/bin/nbdev_test --n_workers 2
.venv/bin/python -m pytest -q tests "$@"
echo "all tests passed in $(( $(date +%s) - start )) s"
