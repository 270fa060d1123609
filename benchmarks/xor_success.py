"""How often does a 2-h-1 sigmoid network solve XOR? Success rate against h, and randn*0.5
against Xavier.

Not a test: prints two tables. Usage:
    python benchmarks/xor_success.py [--seeds 1000] [--epochs 5000] [--threads 1]

A seed succeeds if its network, initialised exactly as
`init_params(hidden_size=h, seed=s, scale=...)` and trained full-batch for `epochs` epochs at lr 1.0
(the course's settings; `train_ensemble`, bit-identical to `train` for h <= 4, within float
rounding above), classifies all four XOR points right (ŷ > 0.5 for the 1s, below for the 0s).
Failures are split by their final loss: 'plateau' if it is still >= 0.2 (never left the 0.25
plateau, or went back), 'elsewhere' if it left the plateau but ends with a point wrong.
'left plateau' is the first epoch with loss < 0.2, median over the seeds that got there. ± is the
binomial standard error sqrt(p(1-p)/n).
Finally the h = 3 failures of both inits are trained again, from the same start, for `--long`
epochs: is "stuck" permanent, or only a matter of budget?
"""
import argparse, time
import torch
from backprop_nbdev.xor import xor_data
from backprop_nbdev.ensemble import (init_ensemble, train_ensemble, ensemble_forward,
                                     ensemble_accuracy, solves, first_below)
from backprop_nbdev.evaluation import Table

def run(h, seeds, scale, epochs):
    "Per-seed success, final loss and first epoch below 0.2 (-1: never)."
    ok, L = solves(*xor_data(), seeds, hidden_size=h, scale=scale, lr=1.0, epochs=epochs,
                   with_losses=True)
    return ok, L[-1], first_below(L, 0.2)

def row(label, ok, final, leave, secs):
    n, p = len(ok), ok.float().mean().item()
    fail = ~ok
    left = leave[leave > 0]
    return [label, f"{ok.sum().item()}/{n}", f"{p:.1%} ± {(p * (1 - p) / n) ** 0.5:.1%}",
            str((fail & (final >= 0.2)).sum().item()), str((fail & (final < 0.2)).sum().item()),
            str(int(left.median().item())) if len(left) else '-', f"{secs:.1f}"]

def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--seeds', type=int, default=1000)
    ap.add_argument('--epochs', type=int, default=5000)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--long', type=int, default=50000,
                    help='epochs for re-training the h = 3 failures')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    seeds = range(a.seeds)
    head = ['h / init', 'solved', 'success rate', 'stuck: plateau', 'stuck: elsewhere',
            'left plateau (median epoch)', 'seconds']
    print(f"XOR, 2-h-1 sigmoid + MSE, lr 1.0, {a.epochs} epochs, seeds 0..{a.seeds - 1}, "
          f"torch.set_num_threads({a.threads})\n")
    print("Success rate against hidden size (randn * 0.5):")
    rows = []
    for h in range(1, 9):
        t = time.perf_counter()
        r = run(h, seeds, 0.5, a.epochs)
        rows.append(row(f"h = {h}", *r, time.perf_counter() - t))
    print(Table(head, rows))
    print("\nh = 3: randn * 0.5 against Xavier (same seeds):")
    rows, fails = [], {}
    for scale in (0.5, 'xavier'):
        t = time.perf_counter()
        r = run(3, seeds, scale, a.epochs)
        rows.append(row('randn * 0.5' if scale == 0.5 else 'xavier', *r, time.perf_counter() - t))
        fails[scale] = (~r[0]).nonzero().squeeze(1).tolist()
    print(Table(head, rows))
    print(f"\nThe h = 3 failures, trained again from the same start for {a.long} epochs:")
    X, y = xor_data()
    for scale, bad in fails.items():
        if not bad: continue
        P, L = train_ensemble(X, y, init_ensemble(bad, hidden_size=3, scale=scale), lr=1.0,
                              epochs=a.long)
        ok = ensemble_accuracy(ensemble_forward(X, P)[0], y) == 1.0
        print(f"  {'randn * 0.5' if scale == 0.5 else 'xavier'}: seeds {bad}"
              f"\n    loss at epoch {a.epochs}: {[round(v, 3) for v in L[a.epochs - 1].tolist()]}"
              f"\n    loss at epoch {a.long}: {[round(v, 3) for v in L[-1].tolist()]}"
              f"\n    solved by then: {ok.sum().item()} of {len(bad)}")

if __name__ == '__main__': main()
