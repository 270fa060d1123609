"""Manual backprop vs autograd: time per training step and memory, same network, same run,
three sizes.

Not a test: prints a table. Usage:  python benchmarks/bench_scale.py [--threads 1] [--repeats 7]

Each step is forward + loss + backward + SGD update of a network built by
`backprop_nbdev.layers.mlp`.
- manual:   `net.backward(loss.backward(), need_dx=False)`, the hand-written backward passes.
- autograd: the *same* network object code and forward pass (parameters with requires_grad), then
            `torch.autograd.grad(L, params)`; the same `SGD.step` applies the update.
- torch.nn: for context only, the idiomatic PyTorch equivalent (nn.Sequential, F losses,
            torch.optim.SGD).
Timing: the variants are interleaved, `repeats` rounds of a fixed number of steps each; the table
shows the median time per step over the rounds (so background load hits all variants alike).
Memory, two measures:
- held: bytes of distinct tensor storage kept for the backward pass of one step (manual: everything
  the layers and the loss cache; autograd: every tensor autograd saves, via
  torch.autograd.graph.saved_tensors_hooks).
- peak: the most bytes torch's CPU allocator held during one step above what it held when the step
  began (torch.profiler with profile_memory=True: allocation and free events summed in time
  order). Not resource.getrusage's ru_maxrss: the process peak is set by importing torch and
  loading the data, long before any step, so its growth over the steps was 0 KiB for every variant
  when we tried it.
"""
import argparse, functools, os, statistics, time
import torch
import torch.nn.functional as F
from backprop_nbdev.layers import mlp
from backprop_nbdev.optim import MSELoss, BCEWithLogitsLoss, SoftmaxCrossEntropy, SGD
from backprop_nbdev.datasets import xor4, moons, load_digits_split
from backprop_nbdev.evaluation import Table
from _common import torch_peak

@functools.lru_cache(None)
def setups():
    "name -> (sizes, act, out_act, loss class, lr, X, y, steps per round)"
    Xd = load_digits_split(test_size=0.2, seed=0)
    return {
        'XOR 2-3-1 (4 pts, sigmoid, MSE)': ([2, 3, 1], 'sigmoid', 'sigmoid', MSELoss, 1.0,
                                            *xor4(), 2000),
        '2-8-8-1 (500 moons, tanh, BCE)': ([2, 8, 8, 1], 'tanh', None, BCEWithLogitsLoss, 0.5,
                                           *moons(n=500, seed=0), 1000),
        'digits 64-128-10 (1437, full batch, CE)': ([64, 128, 10], 'tanh', None,
                                                    SoftmaxCrossEntropy, 0.5,
                                                    Xd.X_train, Xd.y_train, 100),
    }

def build(name, variant):
    "A fresh network, loss and a step() closure for one variant of one setup."
    sizes, act, out_act, Loss, lr, X, y, _ = setups()[name]
    net, loss = mlp(sizes, act=act, out_act=out_act, seed=0), Loss()
    if variant == 'manual':
        opt = SGD(net.params(), lr)
        def step():
            loss(net(X), y)
            net.backward(loss.backward(), need_dx=False)
            opt.step(net.grads())
    elif variant == 'autograd':
        ps = [p.requires_grad_() for p in net.params()]
        opt = SGD(ps, lr)
        def step(): opt.step(torch.autograd.grad(loss(net(X), y), ps))
    else:  # torch.nn, for context
        mods = []
        for i, l in enumerate(l for l in net.layers if hasattr(l, 'W')):
            lin = torch.nn.Linear(*l.W.shape)
            with torch.no_grad():
                lin.weight.copy_(l.W.T)
                lin.bias.copy_(l.b)
            mods += [lin] + ([dict(sigmoid=torch.nn.Sigmoid, tanh=torch.nn.Tanh,
                                   relu=torch.nn.ReLU)[act]()]
                             if i < len(sizes) - 2 else [])
        if out_act == 'sigmoid': mods.append(torch.nn.Sigmoid())
        tnet = torch.nn.Sequential(*mods)
        f = {MSELoss: F.mse_loss, BCEWithLogitsLoss: F.binary_cross_entropy_with_logits,
             SoftmaxCrossEntropy: F.cross_entropy}[Loss]
        opt = torch.optim.SGD(tnet.parameters(), lr=lr)
        def step():
            opt.zero_grad(set_to_none=True)
            f(tnet(X), y).backward()
            opt.step()
        net = tnet
    return net, step

def params_of(net):
    return [p.detach().clone()
            for p in (net.params() if hasattr(net, 'layers') and hasattr(net, 'grads')
                      else net.parameters())]

def check_same(name):
    "Manual and autograd must compute the same update: compare parameters after 3 steps."
    (nm, sm), (na, sa) = build(name, 'manual'), build(name, 'autograd')
    for _ in range(3):
        sm()
        sa()
    gap = max((a - b).abs().max().item() for a, b in zip(params_of(nm), params_of(na)))
    assert gap < 1e-5, f"manual and autograd disagree on {name}: max parameter gap {gap}"
    return gap

def held_bytes(name, variant):
    "Bytes of distinct storages kept for one backward pass."
    net, step = build(name, variant)
    Loss, X, y = (setups()[name][i] for i in (3, 5, 6))
    seen = {}
    def add(t):
        if isinstance(t, torch.Tensor):
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    if variant == 'manual':
        loss = Loss()
        loss(net(X), y)
        for l in net.layers:
            for a in ('x', 'out', 'mask'): add(getattr(l, a, None))
        for a in ('out', 'lse'): add(getattr(loss, a, None))
        # the data exists anyway: count only what training adds
        for t in (X, y): seen.pop(t.untyped_storage().data_ptr(), None)
    else:
        ps = [p.requires_grad_() for p in net.params()]
        with torch.autograd.graph.saved_tensors_hooks(lambda t: (add(t), t)[1], lambda t: t):
            L = Loss()(net(X), y)
        for p in ps: seen.pop(p.untyped_storage().data_ptr(), None)   # parameters exist anyway
        for t in (X, y): seen.pop(t.untyped_storage().data_ptr(), None)
    return sum(seen.values())

def peak_alloc(name, variant):
    """Peak bytes torch's CPU allocator holds above the step's start, during one step
    (after 3 warm-up steps)."""
    net, step = build(name, variant)
    for _ in range(3): step()
    return torch_peak(step)

def time_steps(name, repeats):
    "Median seconds per step of each variant, interleaving the variants round by round."
    k = setups()[name][-1]
    variants = ['manual', 'autograd', 'torch.nn']
    steps = {v: build(name, v)[1] for v in variants}
    for v in variants:
        for _ in range(max(10, k // 10)): steps[v]()          # warm up
    times = {v: [] for v in variants}
    for _ in range(repeats):
        for v in variants:
            t = time.perf_counter()
            for _ in range(k): steps[v]()
            times[v].append((time.perf_counter() - t) / k)
    return {v: statistics.median(ts) for v, ts in times.items()}

def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--threads', type=int, default=1,
                    help='torch.set_num_threads '
                         '(default 1: these matrices are too small for threads to pay)')
    ap.add_argument('--repeats', type=int, default=7)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, torch.set_num_threads({a.threads}), "
          f"{a.repeats} interleaved rounds, "
          f"median time per step; load average {os.getloadavg()[0]:.2f}")
    rows = []
    for name in setups():
        gap = check_same(name)
        t = time_steps(name, a.repeats)
        hb = {v: held_bytes(name, v) for v in ('manual', 'autograd')}
        pk = {v: peak_alloc(name, v) for v in ('manual', 'autograd', 'torch.nn')}
        ok = 'ok' if t['manual'] <= t['torch.nn'] else 'MISSED'
        rows.append([name, f"{t['manual'] * 1e6:.0f}", f"{t['autograd'] * 1e6:.0f}",
                     f"{t['manual'] / t['autograd']:.2f}x",
                     f"{t['torch.nn'] * 1e6:.0f}", f"{t['manual'] / t['torch.nn']:.2f}x {ok}",
                     f"{hb['manual'] / 1024:.1f}", f"{hb['autograd'] / 1024:.1f}",
                     *(f"{pk[v] / 1024:.1f}" for v in ('manual', 'autograd', 'torch.nn')),
                     f"{gap:.1e}"])
    head = ['network', 'manual us/step', 'autograd us/step', 'manual/autograd', 'torch.nn us/step',
            'manual/torch.nn (target <= 1)', 'held KiB manual', 'held KiB autograd',
            'peak KiB manual', 'peak KiB autograd', 'peak KiB torch.nn', 'max |Δθ| after 3 steps']
    print(Table(head, rows))

if __name__ == '__main__': main()
