#!/usr/bin/env bash
# Run every test: the notebooks (nbdev_test) and the pytest suite (tests/). Sets up .venv first if needed
# (SKIP_SETUP=1 skips that, for a caller that has just run tools/setup.sh itself, like .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SKIP_SETUP:-}" = 1 ] || bash tools/setup.sh
export MPLBACKEND=Agg
export VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH"   # as if activated: subprocesses and IPython see this venv
# small tensors: one thread per process is faster than several processes fighting over the cores
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
start=$(date +%s)
# the notebooks and pytest run side by side (much of pytest waits on subprocesses and a browser); notebook output is
# collected and shown after pytest's
log=$(mktemp); trap 'rm -f "$log"' EXIT
.venv/bin/nbdev_test --n_workers 2 >"$log" 2>&1 & nb=$!
py=0; .venv/bin/python -m pytest -q tests "$@" || py=$?
nbrc=0; wait $nb || nbrc=$?
echo "--- nbdev_test (notebooks):"; cat "$log"
[ $nbrc -eq 0 ] && [ $py -eq 0 ] || { echo "FAILED: nbdev_test exit $nbrc, pytest exit $py" >&2; exit 1; }
echo "all tests passed in $(( $(date +%s) - start )) s"
