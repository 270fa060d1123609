"""The one-ulp mode (tools/ulp): a replay stays bit-identical, another layout rounds differently,
exact results stay exact, nothing moves by more than one ulp, gradients are the unperturbed ones,
and with the mode off torch is untouched. Each check runs in a fresh interpreter, started as CI
starts the notebooks."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

root = Path(__file__).resolve().parent.parent

def run(code, ulp=True):
    "Run `code` in a new Python with the mode on (or off); return what it prints as JSON."
    env = {k: v for k, v in os.environ.items() if k not in ('BACKPROP_ULP', 'PYTHONPATH')}
    if ulp:
        env.update(BACKPROP_ULP='1', PYTHONPATH=str(root / 'tools' / 'ulp'),
                   PYTHONDONTWRITEBYTECODE='1')   # no __pycache__ left in tools/ulp
    r = subprocess.run([sys.executable, '-c', PRELUDE + code], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])

PRELUDE = """
import json, threading, torch
from torch.overrides import _get_current_function_mode_stack as modes
g = torch.Generator().manual_seed(0)
x, W = torch.randn(200, 8, generator=g), torch.randn(8, 16, generator=g)
def plain(f):
    "f() computed with no mode at all."
    with torch._C.DisableTorchFunction():
        return f()
def ulps(a, b):
    "How many float32 steps apart a and b are, at most."
    ia, ib = (t.contiguous().view(torch.int32).long() for t in (a, b))
    return (ia - ib).abs().max().item()
"""

def test_mode_is_on_in_every_thread_and_off_without_the_variable():
    code = """
seen = []
t = threading.Thread(target=lambda: seen.append(len(modes())))
t.start(); t.join()
print(json.dumps([len(modes()), seen[0]]))
"""
    assert run(code) == [1, 1]
    assert run(code, ulp=False) == [0, 0]

def test_replay_is_bit_identical_and_layout_or_shape_rounds_differently():
    out = run("""
a, b = x @ W, x @ W
c = x @ W.T.contiguous().T                  # same values, output-major storage
d = torch.cat([x[:100] @ W, x[100:] @ W])  # same products, other shapes
twin = W[:, :1].expand(-1, 5).contiguous()      # five equal columns
e = x @ twin
print(json.dumps([torch.equal(a, b), (a != c).sum().item(), (a != d).sum().item(), a.numel(),
                  torch.equal(x.sum(0), x.sum(0)), torch.equal(a, x.clone() @ W.clone()),
                  ((e0 := plain(lambda: x @ twin)) == e0[:, :1]).le(e == e[:, :1]).all().item()]))
""")
    same, layout, shape, n, sums, copies, twins = out
    assert same and sums and copies           # the same bytes, shapes and strides: the same bits
    assert twins     # where the kernel makes equal columns of W equal outputs, so does the mode
    assert n // 4 < layout < n and n // 4 < shape < n, out

def test_changes_stay_within_one_ulp_and_only_where_inexact():
    out = run("""
r = {'mm': (lambda: x @ W), 'linear': (lambda: torch.nn.functional.linear(x, W.T, W[0])),
     'sum': (lambda: x.sum(0)), 'mean': (lambda: x.mean(0)), 'norm': (lambda: x.norm(dim=1)),
     'cumsum': (lambda: x.cumsum(0)), 'std': (lambda: x.std(0)), 'lse': (lambda: x.logsumexp(1)),
     'einsum': (lambda: torch.einsum('ik,kj->ij', x, W)), 'rmatmul': (lambda: W.__rmatmul__(x))}
res = {k: [ulps(f(), plain(f)), (f() != plain(f)).sum().item()] for k, f in r.items()}
bits = (torch.rand(200, 8, generator=g) < 0.5).float()
ones = (torch.rand(8, 16, generator=g) < 0.5).float()
exact = [torch.equal(bits @ ones, plain(lambda: bits @ ones)),
         torch.equal(bits.mean(), plain(bits.mean)), torch.equal(bits.sum(), plain(bits.sum)),
         torch.equal(bits.norm(), plain(bits.norm))]
d = x.double() @ W.double()
res['float64'] = [((x.double() @ W.double()) - plain(lambda: x.double() @ W.double())).abs().div(
    d.abs()).max().item() <= 2.3e-16, (d != plain(lambda: x.double() @ W.double())).sum().item()]
print(json.dumps([res, exact]))
""")
    res, exact = out
    assert all(exact), exact                       # 0/1 products and small integer sums stay exact
    for op, (worst, changed) in res.items():
        assert worst <= 1 and changed > 0, (op, worst, changed)

def test_gradients_through_a_perturbed_product_are_the_unperturbed_ones():
    out = run("""
Wg, xg = W.clone().requires_grad_(), x.clone().requires_grad_()
G = torch.randn(200, 16, generator=g)
def grads(f):
    z = f(lambda: xg @ Wg)
    return [z.detach(), *torch.autograd.grad(z, (xg, Wg), G)]
(z, gx, gw), (z0, gx0, gw0) = grads(lambda h: h()), grads(plain)
print(json.dumps([(z != z0).sum().item(), torch.equal(gx, gx0), torch.equal(gw, gw0),
                  torch.equal(torch.tanh(z0), plain(lambda: torch.tanh(z0)))]))
""")
    changed, same_gx, same_gw, elementwise_untouched = out
    assert changed > 0 and same_gx and same_gw and elementwise_untouched, out
    # ops whose backward reads their own (changed) output still differentiate, to rounding
    out = run("""
def grad_of(f):
    xg = x.clone().requires_grad_()
    f(xg).sum().backward()
    return xg.grad
fs = [lambda t: t.norm(dim=1), lambda t: t.logsumexp(1), lambda t: t.softmax(1) * x, torch.std]
print(json.dumps([(grad_of(f) - plain(lambda: grad_of(f))).abs().max().item() for f in fs]))
""")
    assert max(out) < 1e-6, out

def test_integers_bools_and_out_pass_through():
    out = run("""
i = torch.arange(12).reshape(3, 4)
o = torch.empty(16)
torch.sum(x, 0, out=o[:8])
print(json.dumps([torch.equal(i @ i.T, plain(lambda: i @ i.T)), (i > 5).sum().item(),
                  torch.equal(o[:8], plain(lambda: x.sum(0))), x.sum().dtype == torch.float32]))
""")
    assert out == [True, 6, True, True]

def test_mode_off_is_plain_torch():
    out = run("""
print(json.dumps([torch.equal(x @ W, plain(lambda: x @ W)),
                  torch.equal(x.sum(0), plain(lambda: x.sum(0)))]))
""", ulp=False)
    assert out == [True, True]
