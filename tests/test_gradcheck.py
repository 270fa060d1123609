"""check_backward against deliberately broken backward passes, and hypothesis property tests of
the manual gradients."""
import linecache
import pytest, torch
from hypothesis import given, settings, strategies as st
from backprop_nbdev.params import Params
from backprop_nbdev.forward import forward
from backprop_nbdev.backward import Grads, Steps, backward, backward_steps
from backprop_nbdev.loss import mse
from backprop_nbdev.autograd import autograd_grads
from backprop_nbdev.gradcheck import numerical_grad, reference_steps
from backprop_nbdev.diagnosis import check_backward
from backprop_nbdev.runtime import threads_for

# A learner's backward pass is generated as real source code, one line per quantity in chain order,
# exactly as a learner writes it in the exercise (so a crash has a line and local variables to
# inspect); a broken one replaces one formula.
RIGHT = dict(
    dy_pred='2 * (y_pred - y) / y.numel()',
    dz2='dy_pred * y_pred * (1 - y_pred)',
    dW2='h.T @ dz2',
    db2='dz2.sum(0)',
    dh='dz2 @ W2.T',
    dz1='dh * h * (1 - h)',
    dW1='X.T @ dz1',
    db1='dz1.sum(0)')
TANH = dict(dz1='dh * (1 - h ** 2)')
BCE = dict(dy_pred='(y_pred - y) / (y_pred * (1 - y_pred) * y.numel())')

def define(src, fname, fn_name):
    "`fn_name` defined by `src`, compiled as pseudo-file `fname`: a crash quotes its line."
    linecache.cache[fname] = (len(src), None, src.splitlines(True), fname)
    ns = dict(Grads=Grads, Steps=Steps)
    exec(compile(src, fname, 'exec'), ns)
    return ns[fn_name]

def learner(grads_only=False, **formulas):
    "A backward pass with RIGHT's formulas except those given."
    body = '\n'.join(f"    {q} = {formulas.get(q, f)}" for q, f in RIGHT.items())
    ret = ('Grads(dW1, db1, dW2, db2)' if grads_only
           else 'Steps(dy_pred, dz2, dW2, db2, dh, dz1, dW1, db1)')
    src = ("def my_backward(X, y, params, cache):\n"
           "    W1, b1, W2, b2 = params\n"
           "    z1, h, z2, y_pred = cache\n"
           f"{body}\n    return {ret}\n")
    return define(src, f"<learner {abs(hash(src))}>", 'my_backward')

# (name, check_backward options, the one mistake, expected quantity, words the diagnosis must
# contain)
BROKEN = [
    ('no 1/N',            {}, dict(dy_pred='2 * (y_pred - y)'),
     'dy_pred', 'missing the 1/N'),
    ('no 2',              {}, dict(dy_pred='(y_pred - y) / y.numel()'),
     'dy_pred', 'missing the 2'),
    ('y - ŷ',             {}, dict(dy_pred='2 * (y - y_pred) / y.numel()'),
     'dy_pred', 'sign flipped'),
    ('/n not /N',         {}, dict(dy_pred='2 * (y_pred - y) / len(y)'),
     'dy_pred', 'divided by the batch size n instead of N'),
    ('lost keepdim',      {}, dict(dy_pred='(2 * (y_pred - y) / y.numel()).sum(1)'),
     'dy_pred', 'lost a dimension of size 1'),
    ('squeezed y',        {}, dict(dy_pred='2 * (y_pred - y.squeeze(1)) / y.numel()'),
     'dy_pred', 'an (n, n) broadcast'),
    ("dz2 without σ'",    {}, dict(dz2='dy_pred'),
     'dz2', 'missing the activation derivative'),
    ("σ'(z2)",            {}, dict(dz2='dy_pred * z2 * (1 - z2)'),
     'dz2', "σ' evaluated on z2"),
    ('dW2 transposed',    {}, dict(dW2='dz2.T @ h'),
     'dW2', 'transposed'),
    ('dW2 from z1',       {}, dict(dW2='z1.T @ dz2'),
     'dW2', 'used z1'),
    ('db2 not summed',    {}, dict(db2='dz2'),
     'db2', 'not summed over the batch'),
    ('db2 keepdim',       {}, dict(db2='dz2.sum(0, keepdim=True)'),
     'db2', 'extra dimension of size 1'),
    ('db2 mean',          {}, dict(db2='dz2.mean(0)'),
     'db2', 'averaged over the batch instead of summed'),
    ('db2 axis 1',        {}, dict(db2='dz2.sum(1)'),
     'db2', 'summed over the wrong axis'),
    ('dh from dŷ',        {}, dict(dh='dy_pred @ W2.T'),
     'dh', 'skipped the output sigmoid'),
    ('dh sign',           {}, dict(dh='-(dz2 @ W2.T)'),
     'dh', 'sign flipped'),
    ("dz1 without σ'",    {}, dict(dz1='dh'),
     'dz1', 'missing the activation derivative'),
    ("σ'(z1)",            {}, dict(dz1='dh * z1 * (1 - z1)'),
     'dz1', "σ' evaluated on z1"),
    ('dW1 transposed',    {}, dict(dW1='dz1.T @ X'),
     'dW1', 'transposed'),
    ('dW1 from dh',       {}, dict(dW1='X.T @ dh'),
     'dW1', 'used dL/dh'),
    ('dW1 / n',           {}, dict(dW1='X.T @ dz1 / len(X)'),
     'dW1', 'divided by the batch size again'),
    ('db1 mean',          {}, dict(db1='dz1.mean(0)'),
     'db1', 'averaged over the batch instead of summed'),
    ('db1 axis 1',        {}, dict(db1='dz1.sum(1)'),
     'db1', 'summed over the wrong axis'),
    ('db1 from dh',       {}, dict(db1='dh.sum(0)'),
     'db1', 'summed dL/dh'),
    ("tanh, sigmoid's σ'", dict(hidden_act='tanh'), dict(),
     'dz1', "used the sigmoid's derivative"),
    ("tanh'(z1)",         dict(hidden_act='tanh'), dict(dz1='dh * (1 - z1 ** 2)'),
     'dz1', "tanh' evaluated on z1"),
    ('BCE, MSE dŷ',       dict(loss='bce'), dict(),
     'dy_pred', 'this is the MSE gradient'),
    ('BCE, dz2 as dŷ',    dict(loss='bce'), dict(dy_pred='(y_pred - y) / y.numel()'),
     'dy_pred', 'this is dL/dz2'),
    ('BCE, no 1/N',       dict(loss='bce'), dict(dy_pred='(y_pred - y) / (y_pred * (1 - y_pred))'),
     'dy_pred', 'missing the 1/N'),
]

@pytest.mark.parametrize('name,opts,mistake,quantity,words', BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_is_named_and_diagnosed(name, opts, mistake, quantity, words):
    res = check_backward(learner(**mistake), verbose=False, **opts)
    assert (res.ok, res.quantity) == (False, quantity), str(res)
    assert words in res.diagnosis, str(res)
    assert '\n' not in str(res) and str(res).startswith(f"✗ {quantity} ")

@pytest.mark.parametrize('opts,formulas', [({}, {}), (dict(hidden_act='tanh'), TANH),
                                           (dict(loss='bce'), BCE),
                                           (dict(hidden_act='tanh', loss='bce'), {**TANH, **BCE})])
def test_correct_passes(opts, formulas):
    res = check_backward(learner(**formulas), verbose=False, **opts)
    assert (res.ok, res.quantity) == (True, None), str(res)
    assert str(res).startswith("✓ all 8 backward quantities match autograd")

def test_grads_only():
    res = check_backward(learner(grads_only=True), verbose=False)
    assert res.ok and "4 parameter gradients (return Steps to check all 8" in str(res)
    res = check_backward(learner(grads_only=True, db1='dz1.mean(0)'), verbose=False)
    assert (res.ok, res.quantity) == (False, 'db1') and 'averaged' in res.diagnosis

def test_unfinished_crashing_and_wrong_return(capsys):
    # crashes at dW1 = X.T @ dz1
    res = check_backward(learner(dz1='...'))
    assert (res.quantity, res.diagnosis.split(';')[0]) == ('dz1', "not written yet (still `...`)")
    # verbose prints exactly one line
    assert capsys.readouterr().out.strip() == str(res)
    res = check_backward(learner(dy_pred='2 * (y_pred - y.squeeze(1)) / y.numel()'), verbose=False)
    assert (res.quantity == 'dy_pred'
            and "(then my_backward raised RuntimeError at `dh = dz2 @ W2.T`" in res.diagnosis)
    # the first wrong step itself crashes
    res = check_backward(learner(dh='dz2 @ W2'), verbose=False)
    assert (res.quantity, res.where.split(',')[0]) == (None, 'case n=7')
    assert res.diagnosis.startswith("my_backward raised RuntimeError at `dh = dz2 @ W2`: "
                                    "mat1 and mat2 shapes cannot be multiplied")
    assert check_backward(lambda *a: None, verbose=False).diagnosis == (
        "must return Steps(dy_pred, dz2, dW2, db2, dh, dz1, dW1, db1), got None (NoneType)")

def test_inputs_are_copies():
    def inplace(X, y, params, cache):
        s = backward_steps(X, y, params, cache)
        # vandalism must not change the reference
        cache.h.zero_()
        params.W1.zero_()
        X.zero_()
        return s
    assert check_backward(inplace, verbose=False).ok

# Property tests: the course's manual backward equals autograd for random shapes, in both dtypes.
# Tolerance: max|manual - autograd| <= rtol * max|autograd| + atol. The worst ratio max|manual -
# autograd| / max|autograd| seen was 1.4e-5 in float32 (3000 random draws) and 1.9e-14 in float64
# (600 draws of these shapes, all eight quantities), so rtol leaves a margin of ~7x in float32 and
# ~50x in float64.
TOL = {torch.float32: (1e-4, 1e-9), torch.float64: (1e-12, 1e-18)}

def net(seed, n, n_in, n_h, n_out, dtype):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=dtype)
    p = Params(r(n_in, n_h) / n_in ** 0.5, r(n_h) / 2, r(n_h, n_out) / n_h ** 0.5, r(n_out) / 2)
    return r(n, n_in), torch.rand(n, n_out, generator=g, dtype=dtype), p

def close(a, b, rtol, atol): return (a - b).abs().max().item() <= rtol * b.abs().max().item() + atol

shapes = dict(seed=st.integers(0, 2 ** 31 - 1), n=st.integers(1, 64), n_in=st.integers(1, 8),
              n_h=st.integers(1, 32), n_out=st.integers(1, 3))

@settings(max_examples=50, deadline=None)
@given(dtype=st.sampled_from([torch.float32, torch.float64]), **shapes)
def test_backward_equals_autograd(seed, n, n_in, n_h, n_out, dtype):
    X, y, p = net(seed, n, n_in, n_h, n_out, dtype)
    with threads_for(0):
        mine, auto = backward(X, y, p, forward(X, p)[1]), autograd_grads(X, y, p)
        # all eight quantities too
        steps, ref = backward_steps(X, y, p, forward(X, p)[1]), reference_steps(X, y, p)
    for a, b in zip(mine, auto):
        assert a.shape == b.shape and a.dtype == dtype
        assert close(a, b, *TOL[dtype]), (a - b).abs().max()
    for a, b in zip(steps, ref): assert close(a, b, *TOL[dtype]), (a - b).abs().max()

# Central differences in float64 with eps=1e-6: truncation is ~1e-13, and rounding is at most a few
# dozen u = 2**-53 of |L| in each of the two evaluations, over 2 eps; so every gap stays below
# 16 u |L| / eps, the bound 13_gradcheck derives and asserts.
@settings(max_examples=10, deadline=None)
@given(**shapes)
def test_backward_equals_finite_differences(seed, n, n_in, n_h, n_out):
    X, y, p = net(seed, n, n_in, n_h, n_out, torch.float64)
    with threads_for(0): num = numerical_grad(lambda q: mse(forward(X, q)[0], y), p)
    for a, b in zip(backward(X, y, p, forward(X, p)[1]), num):
        L, big = mse(forward(X, p)[0], y).item(), max(t.abs().max().item() for t in p)
        # and θ ± eps is itself rounded: a relative error of u |θ| / eps in the step
        assert close(a, b, 2 ** -53 * big / 1e-6, 16 * 2 ** -53 * L / 1e-6), (a - b).abs().max()

# The exercise notebook as a learner meets it: delete the marked line, fill in the `...`, run the
# check.
def exercise_cell(fn_name):
    import json, pathlib
    nb = json.loads((pathlib.Path(__file__).parents[1] / 'nbs' / '14_exercise.ipynb').read_text())
    src, = [''.join(c['source']) for c in nb['cells']
            if c['cell_type'] == 'code' and f"def {fn_name}(" in ''.join(c['source'])
            and '✏️ delete this line' in ''.join(c['source'])]
    return '\n'.join(l for l in src.split('\n') if '✏️ delete this line' not in l)

def learner_fills(fn_name, formulas):
    import re
    src = exercise_cell(fn_name)
    if formulas is not None:
        src = re.sub(r'^(\s+)(\w+) = \.\.\.', lambda m: f"{m[1]}{m[2]} = {formulas[m[2]]}", src,
                     flags=re.M)
    return define(src, f"<exercise {fn_name} {abs(hash(src))}>", fn_name)

@pytest.mark.parametrize('fn_name,opts,fix', [('my_backward', {}, {}),
                                              ('my_backward_tanh', dict(hidden_act='tanh'), TANH),
                                              ('my_backward_bce', dict(loss='bce'), BCE)])
def test_exercise_scaffolds(fn_name, opts, fix):
    # untouched scaffold
    res = check_backward(learner_fills(fn_name, None), verbose=False, **opts)
    assert (res.quantity, res.diagnosis.split(';')[0]) == ('dy_pred',
                                                          "not written yet (still `...`)")
    assert check_backward(learner_fills(fn_name, {**RIGHT, **fix}), verbose=False, **opts).ok
    mean_db1 = {**RIGHT, **fix, 'db1': 'dz1.mean(0)'}
    res = check_backward(learner_fills(fn_name, mean_db1), verbose=False,
                         **opts)
    assert res.quantity == 'db1' and 'averaged over the batch' in res.diagnosis
    no_transpose = {**RIGHT, **fix, 'dh': 'dz2 @ W2'}
    res = check_backward(learner_fills(fn_name, no_transpose), verbose=False, **opts)
    assert res.quantity is None
    assert f"{fn_name} raised RuntimeError at `dh = dz2 @ W2" in res.diagnosis
