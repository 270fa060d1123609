"""Helpers shared by the benchmark scripts (not a benchmark itself)."""
import os, sys
from contextlib import contextmanager
from torch.profiler import profile

@contextmanager
def _quiet_stderr():
    "Hide what C++ writes to fd 2 (torch's profiler logs a line at each start and stop)."
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try: yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)

def torch_peak(fn):
    "Peak bytes held by torch's CPU allocator during fn(), above the level at its start."
    with _quiet_stderr(), profile(profile_memory=True) as prof: fn()
    cur = peak = 0
    # allocations (+) and frees (-) in time order
    for e in sorted(prof.events(), key=lambda e: e.time_range.start):
        cur += e.self_cpu_memory_usage
        peak = max(peak, cur)
    return peak
