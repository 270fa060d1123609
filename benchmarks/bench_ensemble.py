"""N XOR networks trained in one vectorised pass (`train_ensemble`) against N separate trainings
(`train`).

Not a test: prints a table. Usage:
    python benchmarks/bench_ensemble.py [--threads 1] [--n 1000] [--subset 20] [--epochs 1000]
        [--hidden 3]

- vectorised: `train_ensemble` on all N networks at once (init_ensemble(range(N), hidden_size=h)),
  timed in full.
- sequential: `train` on one network after another. Only the first `subset` networks are timed,
  and the time for all N is EXTRAPOLATED as N × (mean time per network); the work per network does
  not depend on the seed.
Both run the same number of epochs, lr 1.0, float32, and compute the same numbers (checked: the
first `subset` networks of the vectorised run are compared with their sequential runs,
bit-identical for h <= 4).
Time per network-epoch = wall time / (networks × epochs).
Memory, two measures, both above what existed before training started:
- torch peak: the most bytes torch's CPU allocator held at once during `--mem-epochs` epochs of
  training (torch.profiler, profile_memory=True, allocation and free events summed in time order).
  For the vectorised run this includes its (epochs, N) float32 loss history; for the sequential
  run, one network's tensors.
- python peak: tracemalloc's peak of Python-heap allocations during the same run (the sequential
  loop keeps its loss history as a Python list of floats; torch tensors are not seen by
  tracemalloc).
"""
import argparse, time, tracemalloc
import torch
from backprop_nbdev.xor import xor_data
from backprop_nbdev.params import init_params
from backprop_nbdev.loop import train
from backprop_nbdev.ensemble import init_ensemble, train_ensemble, member
from backprop_nbdev.evaluation import Table
from _common import torch_peak

def python_peak(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak

def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--threads', type=int, default=None,
                    help='torch.set_num_threads; default: leave torch\'s default')
    ap.add_argument('--n', type=int, default=1000)
    ap.add_argument('--subset', type=int, default=20)
    ap.add_argument('--epochs', type=int, default=1000)
    ap.add_argument('--hidden', type=int, default=3)
    ap.add_argument('--mem-epochs', type=int, default=50)
    a = ap.parse_args()
    if a.threads is not None: torch.set_num_threads(a.threads)
    X, y = xor_data()
    N, S, E, h = a.n, a.subset, a.epochs, a.hidden
    print(f"torch {torch.__version__}, torch.get_num_threads() = {torch.get_num_threads()}, "
          f"2-{h}-1 XOR networks, {E} epochs, lr 1.0, float32")

    train_ensemble(X, y, init_ensemble(range(N), hidden_size=h), epochs=20)            # warm up
    t = time.perf_counter()
    P, L = train_ensemble(X, y, init_ensemble(range(N), hidden_size=h), epochs=E)
    t_vec = time.perf_counter() - t

    train(X, y, init_params(hidden_size=h, seed=0), epochs=20)                          # warm up
    t = time.perf_counter()
    alone = [train(X, y, init_params(hidden_size=h, seed=s), epochs=E) for s in range(S)]
    t_seq_subset = time.perf_counter() - t
    t_seq = t_seq_subset / S * N                                                   # extrapolated

    same = all(L[:, k].tolist() == l and all(torch.equal(a, b) for a, b in zip(member(P, k), p))
               for k, (p, l) in enumerate(alone))
    gap = max((L[:, k] - torch.tensor(l)).abs().max().item() for k, (_, l) in enumerate(alone))

    M = a.mem_epochs
    vec_run = lambda: train_ensemble(X, y, init_ensemble(range(N), hidden_size=h), epochs=M)
    seq_run = lambda: [train(X, y, init_params(hidden_size=h, seed=s), epochs=M) for s in range(S)]
    tp_vec, tp_seq = torch_peak(vec_run), torch_peak(seq_run)
    pp_vec, pp_seq = python_peak(vec_run), python_peak(seq_run)

    head = ['variant', 'networks timed', f'wall s ({N} nets)', 'µs / network-epoch', 'speedup',
            f'torch peak KiB ({M} ep)', f'python peak KiB ({M} ep)']
    rows = [['vectorised train_ensemble', f"{N}", f"{t_vec:.2f}",
             f"{t_vec / (N * E) * 1e6:.2f}", f"{t_seq / t_vec:.0f}x",
             f"{tp_vec / 1024:.1f}", f"{pp_vec / 1024:.1f}"],
            ['sequential train (loop)', f"{S} (extrapolated x{N / S:g})", f"{t_seq:.1f}",
             f"{t_seq / (N * E) * 1e6:.2f}", "1x",
             f"{tp_seq / 1024:.1f} ({S} nets in turn)", f"{pp_seq / 1024:.1f} ({S} nets)"]]
    print(Table(head, rows))
    print(f"\nfirst {S} networks: vectorised == sequential bit for bit: {same} "
          f"(max |loss gap| {gap:.1e})")
    print(f"vectorised loss history: {L.numel() * L.element_size() / 2**20:.1f} MiB "
          f"for {E} epochs x {N} networks")

if __name__ == '__main__': main()
