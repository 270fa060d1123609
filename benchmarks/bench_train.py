"""`train` against a plain loop as the seed notebook wrote it, and the command line with and
without threads.

Not a test: prints a table. Usage:  python benchmarks/bench_train.py [--repeats 7] [--epochs 5000]

1. XOR, 2-3-1, 5000 epochs, float32, on one thread: the course's `train` (checks its inputs once,
   then runs the step functions of lessons 03-07) against the seed-style loop below (its own naive
   sigmoid, its formulas inline). The two are interleaved round by round, and the median is
   compared. Target: `train` within 1.2x of the plain loop.
2. `backprop-train --dataset moons --epochs 3000` as a user runs it (the trainer picks one thread
   for a network this small), against the same command with the thread pool forced back on (the
   child sets `checks._SMALL = 0`, so every network counts as large enough for the pool).
   Target: as shipped within 1.05x of the thread pool's time.
The load average is printed beside the figures: these machines are shared.
"""
import argparse, os, statistics, subprocess, sys, time
import torch
from backprop_nbdev import xor_data, init_params, train
from backprop_nbdev.evaluation import Table


def seed_loop(X, y, W1, b1, W2, b2, lr=1.0, epochs=5000):
    "The seed notebook's training loop, as it wrote it: naive sigmoid, every formula inline."
    sigmoid = lambda x: 1 / (1 + torch.exp(-x))
    losses = []
    for _ in range(epochs):
        z1 = X @ W1 + b1
        h = sigmoid(z1)
        z2 = h @ W2 + b2
        y_pred = sigmoid(z2)
        losses.append(torch.mean((y_pred - y) ** 2).item())
        dz2 = 2 * (y_pred - y) / X.shape[0] * (y_pred * (1 - y_pred))
        dW2, db2 = h.T @ dz2, dz2.sum(0)
        dz1 = dz2 @ W2.T * (h * (1 - h))
        dW1, db1 = X.T @ dz1, dz1.sum(0)
        W1, b1, W2, b2 = W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2
    return losses


def time_train(repeats, epochs):
    X, y = xor_data()
    p = init_params(seed=42)
    runs = {'train': lambda: train(X, y, p, epochs=epochs)[1],
            'seed-style loop': lambda: seed_loop(X, y, *p, epochs=epochs)}
    for f in runs.values(): f()                                        # warm up
    times = {k: [] for k in runs}
    for _ in range(repeats):
        for k, f in runs.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return ({k: statistics.median(v) for k, v in times.items()},
            abs(runs['train']()[-1] - runs['seed-style loop']()[-1]))


def time_cli(threads):
    """Time of a fresh `backprop-train --dataset moons --epochs 3000`, threads 'auto' (shipped) or
    'default'."""
    env = dict(os.environ)
    env.pop('OMP_NUM_THREADS', None)                                  # as a user's shell has it
    code = ("import sys, torch; from backprop_nbdev import checks; "
            # thread pool back on, whatever the size
            + ("checks._SMALL = 0; " if threads == 'default' else "")
            + "from backprop_nbdev.cli import main; sys.exit(main(sys.argv[1:]))")
    t = time.perf_counter()
    subprocess.run([sys.executable, '-c', code,
                    '--dataset', 'moons', '--epochs', '3000', '--quiet'],
                   env=env, check=True)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--repeats', type=int, default=7)
    ap.add_argument('--epochs', type=int, default=5000)
    a = ap.parse_args()
    load0 = os.getloadavg()[0]
    torch.set_num_threads(1)
    t, gap = time_train(a.repeats, a.epochs)
    ratio = t['train'] / t['seed-style loop']
    cli = {k: statistics.median(time_cli(k) for _ in range(3)) for k in ('auto', 'default')}
    print(f"torch {torch.__version__}; {os.cpu_count()} cores; load average {load0:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end")
    print(Table(['measure', 'value', 'target', 'verdict'], [
        [f"train, XOR {a.epochs} epochs, 1 thread (median of {a.repeats})", f"{t['train']:.3f} s",
         '', ''],
        ['seed-style loop, same run, interleaved', f"{t['seed-style loop']:.3f} s", '', ''],
        ['train / seed-style loop', f"{ratio:.2f}x", '<= 1.2x', 'ok' if ratio <= 1.2 else 'MISSED'],
        ['|final loss train - seed-style| (stable vs naive sigmoid)', f"{gap:.1e}", '', ''],
        ['backprop-train --dataset moons --epochs 3000, as shipped', f"{cli['auto']:.2f} s",
         '', ''],
        ['the same with torch\'s default thread pool', f"{cli['default']:.2f} s",
         "shipped <= 1.05x this",
         'ok' if cli['auto'] <= cli['default'] * 1.05 else 'MISSED'],
    ]))


if __name__ == '__main__': main()
