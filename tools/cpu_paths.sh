#!/usr/bin/env bash
# Run the notebooks (nbdev_test) once per CPU code path, one line per path: the branch MKL took,
# ATen's kernel level, pass/fail, and under a failure the first failing cell of each notebook.
# Extra arguments go to nbdev_test (e.g. --path nbs/08_loop.ipynb); CPU_PATHS="native one-ulp"
# runs only those paths; full logs stay in $CPU_PATHS_LOGS (default: a new temporary directory).
# A forced path can only restrict what the CPU has, so several may be one path: a path whose probe
# computes the same bits as an earlier one is not run again (CPU_PATHS_ALL=1 runs it anyway), and
# the last lines say which paths were one. The one-ulp path (tools/ulp) is the same on every CPU.
set -uo pipefail
cd "$(dirname "$0")/.."
export MPLBACKEND=Agg
export VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH"
# small tensors: one thread per process is faster than several processes fighting over the cores
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
args=("$@")
[[ " $* " == *" --n_workers"* ]] || args+=(--n_workers 2)
logs=${CPU_PATHS_LOGS:-$(mktemp -d)}
mkdir -p "$logs"
# (PYTHONDONTWRITEBYTECODE: no __pycache__ left in tools/ulp by the start-up hook)
ulp="BACKPROP_ULP=1 PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$PWD/tools/ulp${PYTHONPATH:+:$PYTHONPATH}"
paths=(
  "native|"
  "mkl-avx512|MKL_ENABLE_INSTRUCTIONS=AVX512"
  "mkl-avx2|MKL_ENABLE_INSTRUCTIONS=AVX2"
  "mkl-sse4_2|MKL_ENABLE_INSTRUCTIONS=SSE4_2"
  "mkl-compatible|MKL_CBWR=COMPATIBLE"
  "aten-default|ATEN_CPU_CAPABILITY=default"
  "one-ulp|$ulp"
)

# What torch runs on in a process: MKL's own account (its version, the ISA its verbose header names,
# mkl_cbwr_get_auto_branch(), the branch setting in force), ATen's capability, whether the one-ulp
# mode is on, and a hash of some products and of some element-wise results: two paths with equal
# hashes computed the same bits. Branch numbers as oneMKL's mkl_cbwr.h defines them.
probe='
import ctypes, hashlib, os, sys, tempfile
os.environ["MKL_VERBOSE"] = "1"          # MKL names the code path it dispatched to, once
import torch
from torch.overrides import _get_current_function_mode_stack as modes
BRANCH = {0: "OFF", 1: "OFF", 2: "AUTO", 3: "COMPATIBLE", 4: "SSE2", 6: "SSSE3", 7: "SSE4_1",
          8: "SSE4_2", 9: "AVX", 10: "AVX2", 11: "AVX512_MIC", 12: "AVX512", 13: "AVX512_MIC_E1",
          14: "AVX512_E1"}
def mkl_isa():
    "The ISA named in MKL verbose header, printed at the first product (caught from fd 1)."
    sys.stdout.flush()
    keep, tmp = os.dup(1), tempfile.TemporaryFile()
    os.dup2(tmp.fileno(), 1)
    torch.ones(64, 64) @ torch.ones(64, 32)
    torch._C._verbose.mkl_set_verbose(0)
    os.dup2(keep, 1)
    tmp.seek(0)
    head = [l for l in tmp.read().decode(errors="replace").splitlines() if "architecture" in l]
    return head[0].split("architecture", 1)[1].split(",")[0].strip() if head else "?"
def bits(fs):
    "Six hex digits of a hash of the results of fs."
    h = hashlib.blake2b(digest_size=3)
    g = torch.Generator().manual_seed(0)
    for f in fs:
        h.update(f(g).numpy().tobytes())
    return h.hexdigest()
isa = mkl_isa()
lib = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
buf = ctypes.create_string_buffer(256)
lib.MKL_Get_Version_String(buf, 256)
version = buf.value.decode().split("Version ")[-1].split("-")[0]
auto = lib.mkl_serv_cbwr_get_auto_branch()     # mkl_cbwr_get_auto_branch(void): no argument
now = lib.mkl_serv_cbwr_get(1)                  # mkl_cbwr_get(MKL_CBWR_BRANCH): the setting
r = lambda *s: (lambda g: torch.randn(*s, generator=g))
mm = lambda m, k, n, t=lambda w: w: lambda g: r(m, k)(g) @ t(r(k, n)(g))
lin = lambda g: torch.nn.functional.linear(r(200, 8)(g), r(16, 8)(g), r(16)(g))
blas = bits([mm(4, 2, 8), mm(200, 2, 8), mm(64, 64, 32), mm(100, 30, 1), mm(1797, 64, 32),
             mm(200, 8, 16, lambda w: w.T.contiguous().T), lin,
             lambda g: r(64, 64)(g).double() @ r(64, 32)(g).double()])
aten = bits([lambda g: torch.exp(r(1000)(g)), lambda g: torch.sigmoid(r(1000)(g)),
             lambda g: torch.tanh(r(1000)(g)), lambda g: r(1000)(g).sum(),
             lambda g: r(999)(g).mean(), lambda g: torch.log(r(1000)(g).abs())])
mode = " + one-ulp mode" if modes() else ""
print(f"MKL {version} \"{isa}\" auto {BRANCH.get(auto, auto)}({auto}) "
      f"set {BRANCH.get(now, now)}({now}) | ATen {torch.backends.cpu.get_cpu_capability()}{mode}"
      f" | bits {blas}/{aten}")
'

# The first failure of each notebook in an nbdev_test log: the notebook, the cell, the cell line
# that raised, and the error with its message (fastcore's test_eq puts both values there).
summary='
import re, sys
text = open(sys.argv[1], errors="replace").read()
heads = r"\n(?=\w+ in \S+\.ipynb:\n)"
for b in re.split(heads, "\n" + text):
    m = re.match(r"(\w+) in (\S+\.ipynb):", b)
    if not m:
        continue
    cell = re.search(r"While Executing Cell #(\d+)", b)
    frames = re.findall(r"File \"<ipython-input-[^\"]*\", line (\d+)[^\n]*\n\s*([^\n]+)", b)
    tail = b.split("\n" + m.group(1), 1)[-1] if "\n" + m.group(1) in b else ""
    err = " | ".join(l.strip() for l in (m.group(1) + tail).strip().split("\n\n")[0].splitlines())
    line = f" line {frames[-1][0]}: {frames[-1][1].strip()}" if frames else ""
    where = f"cell #{cell.group(1)}" if cell else "cell ?"
    nb = m.group(2).rsplit("/", 1)[-1]
    print(f"{nb} {where}{line}\n    -> {err[:300]}")
'

flags=$(grep -m1 '^flags' /proc/cpuinfo)
has() { [[ " $flags " == *" $1 "* ]] && echo "$1" || echo "no $1"; }
echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1) ($(has avx512f), $(has avx2))"
failed=()
declare -A same secs
for p in "${paths[@]}"; do
  name=${p%%|*}
  settings=${p#*|}
  [ -z "${CPU_PATHS:-}" ] || [[ " $CPU_PATHS " == *" $name "* ]] || continue
  log="$logs/$name.log"
  # shellcheck disable=SC2086  # settings: VAR=value words
  desc=$(env $settings .venv/bin/python -c "$probe" 2>&1 | tail -1)
  key=${desc##*| bits }
  if [ "$settings" != "$ulp" ] && [ -n "${same[$key]:-}" ] && [ -z "${CPU_PATHS_ALL:-}" ]; then
    first=(${same[$key]})
    printf '%-14s %-31s %s | same bits as %s: not run again\n' "$name" "$settings" "$desc" \
      "${first[0]}"
    same[$key]+=" $name"
    continue
  fi
  start=$(date +%s)
  # shellcheck disable=SC2086
  env $settings .venv/bin/nbdev_test "${args[@]}" >"$log" 2>&1
  rc=$?
  secs[$name]=$(( $(date +%s) - start ))
  [ "$settings" != "$ulp" ] || [[ "$desc" == *one-ulp* ]] || rc=2   # the mode must really be on
  verdict=pass
  [ $rc -eq 0 ] || { verdict=FAIL; failed+=("$name"); }
  printf '%-14s %-31s %s | %s in %s s\n' "$name" "${settings%% PYTHON*}" "$desc" "$verdict" \
    "${secs[$name]}"
  [ $rc -eq 0 ] || .venv/bin/python -c "$summary" "$log" | sed 's/^/    /'
  [ "$settings" = "$ulp" ] || same[$key]+=" $name"
done
for key in "${!same[@]}"; do
  set -- ${same[$key]}
  [ $# -lt 2 ] || echo "one code path here (equal bits $key): $*"
done
if [ -n "${secs[native]:-}" ] && [ -n "${secs[one-ulp]:-}" ] && [ "${secs[native]}" -gt 0 ]; then
  echo "one-ulp mode took $(( 100 * ${secs[one-ulp]} / ${secs[native]} ))% of native's time"
fi
echo "logs: $logs"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED on: ${failed[*]}" >&2
  exit 1
fi
echo "all paths passed"
