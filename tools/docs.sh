#!/usr/bin/env bash
# Build the course as a website into _docs/ (settings.ini's doc_path), offline: every notebook
# executed with nbclient (two at a time), put through nbdev's own docs processors (show_doc,
# #| hide and #| export, doc links), rendered by Sphinx with myst-nb and sphinx-book-theme.
# Then open _docs/index.html in a browser.
#
#   bash tools/docs.sh           build (sets up .venv and the docs requirements first, if needed)
#   bash tools/docs.sh --force   execute and process every notebook again, whatever the cache says
#   bash tools/docs.sh --check   build, then open every page in headless Chromium
#                                (tests/test_docs_site.py)
#
# The cache, _docs_cache/, keeps each executed notebook under a key: the SHA-256 of the notebook
# file and of the package files its kernel imported (with the package's data files they name, such
# as the widgets' JavaScript) and the Python version. A notebook whose key has not changed is not
# run again (tools/docs/course.py says it exactly). Delete _docs_cache/ to start from nothing.
# Overrides: SKIP_SETUP=1 (a caller that has just run tools/setup.sh), DOCS_JOBS=N (notebooks run
# at once; 2 by default).
set -euo pipefail
cd "$(dirname "$0")/.."
check=
args=()
for a in "$@"; do
  if [ "$a" = --check ]; then check=1; else args+=("$a"); fi
done
[ "${SKIP_SETUP:-}" = 1 ] || bash tools/setup.sh
# as if the venv were activated: the kernels and the notebooks' ! commands find its tools
export VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}   # small tensors: one thread a kernel, as in tests

# the docs requirements from settings.ini, installed when they change (the stamp holds the last)
want=$(.venv/bin/python -c '
import configparser
c = configparser.ConfigParser(delimiters=["="])
c.read("settings.ini", encoding="utf-8")
print(c["DEFAULT"].get("docs_requirements", ""))')
stamp=.venv/.backprop-docs
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing the docs requirements: $want"
  # one word a requirement, as setup.py splits them; pip's notes on index locations in its
  # configuration go (as in setup.sh), everything else it says stays
  # shellcheck disable=SC2086
  { .venv/bin/python -m pip install --disable-pip-version-check -q $want 2>&1 1>&3 3>&- |
      awk '!/^WARNING: Location .* is ignored/ { print; fflush() }' >&2; } 3>&1
  printf '%s\n' "$want" >"$stamp"
fi

start=$(date +%s)
.venv/bin/python tools/docs/build.py --jobs "${DOCS_JOBS:-2}" ${args[@]+"${args[@]}"}
load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)
echo "docs built in $(( $(date +%s) - start )) s (load average ${load:-unknown})"
if [ -n "$check" ]; then
  BACKPROP_DOCS=1 .venv/bin/python -m pytest -q tests/test_docs_site.py
fi
