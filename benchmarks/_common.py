"""Helpers shared by the benchmark scripts (not a benchmark itself)."""
from torch.profiler import profile

def torch_peak(fn):
    "Peak bytes held by torch's CPU allocator during fn(), above the level at its start."
    with profile(profile_memory=True) as prof: fn()
    cur = peak = 0
    # allocations (+) and frees (-) in time order
    for e in sorted(prof.events(), key=lambda e: e.time_range.start):
        cur += e.self_cpu_memory_usage; peak = max(peak, cur)
    return peak
