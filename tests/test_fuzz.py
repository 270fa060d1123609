"""Hypothesis fuzzing of the public API with malformed inputs. For every public function, start from
a valid call, replace ONE argument with something drawn from a wide space of wrong things (None,
str, list, numpy arrays, int/bool/complex/half tensors, wrong shapes, NaN/inf, huge and negative
numbers, mismatched dtypes), and call it. Only the doors are fuzzed: the functions a user calls
with their own data and settings. The maths they call (sigmoid, forward, backward, a layer's
forward) is the equation alone, unchecked. The contract: the call either succeeds or raises
ValueError or TypeError (DivergenceError from training, FileNotFoundError/IsADirectoryError for
paths), with a non-empty message that names the replaced argument. Anything else (IndexError,
RuntimeError, AttributeError from deep inside torch) fails. SILENT lists inputs that were once
accepted without any error each must now be refused."""
import atexit, math, os, re, shutil, tempfile, warnings
from contextlib import contextmanager
import numpy as np
import pytest, torch
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
from hypothesis import given, settings, HealthCheck, strategies as st
import backprop_nbdev as bp
from backprop_nbdev.diagnosis import check_backward

X, Y = bp.xor_data()
P = bp.init_params()
YP, C = bp.forward(X, P)
G = bp.backward(X, Y, P, C)
TMP = tempfile.mkdtemp()
atexit.register(shutil.rmtree, TMP, True)
# examples per argument; FUZZ_EXAMPLES=500 for a deep run
N = int(os.environ.get('FUZZ_EXAMPLES', 12))
MODEL = os.path.join(TMP, 'good.safetensors')
bp.save_model(MODEL, P, data=(X, Y), seed=42)

# ---------------------------------------------------------------- what a malformed input looks like
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32,
          torch.uint8,
          torch.bool, torch.complex64]
FILLS = ['zeros', 'randn', 'nan', 'inf', '-inf', 'huge', 'neg_zero']

@st.composite
def tensors(draw, dtypes=DTYPES, shapes=None):
    "A tensor of any dtype and small shape (0-3 dims, sizes 0-5), maybe holding NaN, ±inf or 1e38."
    dtype = draw(st.sampled_from(dtypes))
    shape = draw(shapes) if shapes is not None else tuple(draw(st.lists(st.integers(0, 5),
                                                                        max_size=3)))
    fill = draw(st.sampled_from(FILLS))
    t = torch.randn(shape, generator=torch.Generator().manual_seed(draw(st.integers(0, 99))))
    values = {'zeros': 0.0, 'nan': math.nan, 'inf': math.inf, '-inf': -math.inf,
              'huge': 1e38, 'neg_zero': -0.0}
    if fill != 'randn': t = t.fill_(values[fill])
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')          # casting NaN to int warns
        t = t.to(dtype)
    if dtype.is_floating_point and draw(st.booleans()): t.requires_grad_()
    return t

def like(ref):
    """Tensors close to `ref`: its shape with another dtype or bad values, a neighbouring shape,
    sparse or meta."""
    near = st.sampled_from([tuple(ref.shape), tuple(ref.shape[::-1]), tuple(ref.shape[:-1]),
                            (*ref.shape, 1),
                            (0, *ref.shape[1:])])
    odd = st.sampled_from([ref.to_sparse(), torch.empty(ref.shape, device='meta'),
                           torch.nn.Parameter(ref.clone()), ref.double()])
    return st.one_of(tensors(shapes=near), odd)

junk = st.one_of(
    st.none(), st.booleans(), st.text(max_size=4), st.integers(-2**70, 2**70), st.floats(),
    st.lists(st.floats(), max_size=4),
    st.lists(st.lists(st.floats(-2, 2), min_size=2, max_size=2), min_size=4, max_size=4),
    st.builds(np.zeros, st.sampled_from([(4, 2), (4, 1), (2, 3)])), st.just(object()),
    st.just({'a': 1}),
    st.sampled_from([torch.float32, torch.int64, torch.device('cpu'), 'cpu', 'float32']),
)
anything = st.one_of(junk, tensors())

def tuple_with_bad_field(base):
    "`base` (a Params/Grads/Cache) with one field replaced, or its fields in a plain tuple/list."
    def swap(i_v): return base._replace(**{base._fields[i_v[0]]: i_v[1]})
    fields = st.one_of(st.builds(lambda i, t: (i, t), st.integers(0, 3), anything),
                       st.builds(lambda i, t: (i, t), st.integers(0, 3), like(base[0])))
    return st.one_of(fields.map(swap), st.just(tuple(base)), st.just(list(base)))

def bad(arg):
    "The malformed values to try for an argument called `arg`."
    if arg == 'params': return st.one_of(anything, tuple_with_bad_field(P),
                                         st.just(bp.init_params(dtype=torch.float64)))
    if arg == 'grads': return st.one_of(anything, tuple_with_bad_field(G))
    if arg == 'cache': return st.one_of(anything, tuple_with_bad_field(C))
    if arg in ('X', 'y', 'y_pred', 'x', 's'):
        return st.one_of(anything, like({'X': X, 'y': Y}.get(arg, YP)))
    if arg in ('data', 'expect_data'):
        return st.one_of(anything, st.tuples(like(X), like(Y)), st.just((X,)))
    return anything

# ---------------------------------------------------------------- the calls: the doors a user calls
def _save(**kw): return bp.save_model(os.path.join(TMP, 'fuzz.safetensors'), **kw)
def _net(): return bp.mlp([2, 3, 1], 'sigmoid', 'sigmoid', scale=0.5, seed=42)
def _fit(net, **kw):
    net = _net() if net is None else net
    return bp.fit(net, bp.MSELoss(),
                  bp.SGD(_net().params() if not isinstance(net, bp.Sequential) else net.params(),
                         0.5), **kw)
def _trainer_step(n): return bp.Trainer(X, Y).step(n)
def _trainer_view(view, X): return getattr(bp.Trainer(X=bp.xor_data()[0], y=Y), view)(X)
def _trainer_gradients(**settings):
    t = bp.Trainer(X, Y)
    for k, v in settings.items(): setattr(t, k, v)
    return t.gradients()
PE = bp.init_ensemble([0, 1])

CASES = {  # name: (function, valid keyword arguments; each one is replaced in turn)
    'xor_data': (bp.xor_data, dict(dtype=torch.float32, device=None)),
    'init_params': (bp.init_params, dict(input_size=2, hidden_size=3, output_size=1, scale=0.5,
                                         seed=42,
                                         dtype=torch.float32, device=None)),
    'train': (bp.train, dict(X=X, y=Y, params=P, lr=1.0, epochs=3, log_every=None)),
    'predict': (bp.predict, dict(X=X, params=P)),
    'accuracy': (bp.accuracy, dict(y_pred=YP, y=Y)),
    'results_table': (bp.results_table, dict(X=X, y=Y, y_pred=YP)),
    'autograd_grads': (bp.autograd_grads, dict(X=X, y=Y, params=P)),
    'train_autograd': (bp.train_autograd, dict(X=X, y=Y, params=P, lr=1.0, epochs=3)),
    'plot_decision_boundary': (bp.plot_decision_boundary, dict(model=P, X=X, y=Y, ax=None,
                                                               bounds=None, n=5,
                                                               cmap='RdYlBu_r')),
    'decision_grid': (bp.decision_grid, dict(model=P, bounds=(-0.5, 1.5, -0.5, 1.5), n=5)),
    'plot_loss': (bp.plot_loss, dict(losses=[0.3, 0.2], ax=None, label=None)),
    'mlp': (bp.mlp, dict(sizes=[2, 4, 1], act='tanh', out_act='sigmoid', scale=0.5, seed=1,
                         dtype=torch.float32, device=None)),
    'fit': (_fit, dict(net=None, X=X, y=Y, epochs=3, batch_size=None, seed=0, l2=0.0)),
    'Trainer': (bp.Trainer, dict(X=X, y=Y, hidden=3, depth=2, activation='tanh', loss='bce',
                                 lr=1.0, seed=42,
                                 scale=0.5, batch_size=None, l2=0.0)),
    'Trainer.step': (_trainer_step, dict(n=3)),
    'save_model': (_save, dict(net=P, data=(X, Y), note='ok')),
    'save_model(path)': (bp.save_model, dict(path=os.path.join(TMP, 'fuzz2.safetensors'), net=P)),
    'load_model': (bp.load_model, dict(path=MODEL, expect_data=(X, Y))),
    'init_ensemble': (bp.init_ensemble, dict(seeds=[0, 1], input_size=2, hidden_size=3,
                                             output_size=1,
                                             scale=0.5, dtype=torch.float32, device=None)),
    'train_ensemble': (bp.train_ensemble, dict(X=X, y=Y, P=bp.init_ensemble([0, 1]), lr=1.0,
                                               epochs=3)),
    'make_2d': (bp.make_2d, dict(name='moons', n=20, noise=0.1, seed=0, dtype=torch.float32,
                                 device=None)),
    'circles': (bp.circles, dict(n=20, noise=0.1, factor=0.5, seed=0)),
    'spirals': (bp.spirals, dict(n=20, noise=0.1, turns=1.5, seed=0)),
    'gaussians': (bp.gaussians, dict(n=20, noise=0.5, distance=3.0, seed=0)),
    'split_data': (bp.split_data, dict(X=X, y=Y, test_frac=0.25, seed=0)),
    'load_digits_split': (bp.load_digits_split, dict(test_size=0.2, seed=0, dtype=torch.float32,
                                                     device=None)),
    'numerical_grad': (bp.numerical_grad, dict(f=lambda ps: sum((p ** 2).sum() for p in ps),
                                               params=P,
                                               eps=1e-6)),
    'grad_gaps': (bp.grad_gaps, dict(X=X, y=Y, params=P, lr=1.0, epochs=2)),
    'Trainer.predict': (lambda X: _trainer_view('predict', X), dict(X=X)),
    'Trainer.units': (lambda X: _trainer_view('units', X), dict(X=X)),
    'Trainer.gradients': (_trainer_gradients, dict(lr=1.0, l2=0.0, batch_size=None)),
    'solves': (bp.solves, dict(X=X, y=Y, seeds=[0, 1], hidden_size=3, scale=0.5, lr=1.0, epochs=3)),
    'member': (bp.member, dict(P=PE, k=1)),
    'stack_params': (bp.stack_params, dict(ps=[P, P])),
    'ensemble_accuracy': (bp.ensemble_accuracy, dict(y_pred=torch.rand(2, 4, 1), y=Y)),
    'numerical_grad(dtype)': (bp.numerical_grad, dict(f=lambda ps: sum((p ** 2).sum() for p in ps),
                                                      params=P,
                                                      dtype=torch.float64)),
    'check_backward': (lambda fn, **kw: check_backward(fn, verbose=False, **kw),
                       dict(fn=bp.backward_steps, hidden_act='sigmoid', loss='mse')),
}

TRAINING = (ValueError, TypeError, bp.DivergenceError)
FILES = (ValueError, TypeError, FileNotFoundError, IsADirectoryError)
ALLOWED = {'train': TRAINING, 'train_autograd': TRAINING, 'fit': TRAINING, 'Trainer.step': TRAINING,
           'train_ensemble': TRAINING, 'grad_gaps': TRAINING, 'solves': TRAINING,
           'save_model(path)': FILES, 'load_model': FILES}
# larger valid values: not fuzzed
SLOW = dict(epochs=100, n=300, input_size=10**5, hidden_size=10**5, output_size=10**5, hidden=64)

def _int(v): return isinstance(v, int) and not isinstance(v, bool)

# ---------------------------------------------------------------- the contract
def names(msg, arg):
    "Does `msg` name `arg` as a word (so 'y' is not found inside 'dtype')?"
    return re.search(rf"(?<![\w.]){re.escape(arg)}\b", msg) is not None

@contextmanager
def in_dir(d):
    os.makedirs(d, exist_ok=True)
    old = os.getcwd()
    os.chdir(d)
    try: yield
    finally: os.chdir(old)

# Two arguments that must agree (rows of X and y, shapes of y_pred and y): a message naming either
# one is fair.
PARTNERS = dict(X=('y',), y=('X', 'y_pred'), y_pred=('y',))

def check_call(fname, arg, value):
    fn, kw = CASES[fname]
    kw = dict(kw)
    if arg in kw: kw[arg] = value
    try:
        # junk str paths land in a scratch dir per function
        with warnings.catch_warnings(), in_dir(os.path.join(TMP, fname)):
            warnings.simplefilter('ignore')
            fn(**kw)
    except ALLOWED.get(fname, (ValueError, TypeError)) as e:
        msg = str(e)
        assert msg.strip(), f"{fname}({arg}={value!r}): {type(e).__name__} with an empty message"
        assert any(names(msg, a) for a in (arg, *PARTNERS.get(arg, ()))), (
            f"{fname}({arg}=...) raised {type(e).__name__} whose message does not name {arg!r}: "
            f"{msg}")
    finally:
        plt.close('all')

ARGS = [(f, a) for f, (_, kw) in CASES.items() for a in kw]

@pytest.mark.parametrize('fname, arg', ARGS, ids=[f'{f}-{a}' for f, a in ARGS])
@settings(max_examples=N, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_malformed_argument(fname, arg, data):
    value = data.draw(bad(arg), label=arg)
    if _int(value) and value > SLOW.get(arg, 10**6):
        # a valid but huge request (10**15 epochs, a grid of terabytes) would be slow, not wrong
        return
    check_call(fname, arg, value)


@settings(max_examples=30, deadline=None)
@given(key=st.from_regex(r'[a-z][a-z_]{0,8}', fullmatch=True), value=anything)
def test_save_model_metadata(key, value):
    """Any extra metadata either saves (and loads back equal) or is refused with its own key in the
    message."""
    if key in ('path', 'net', 'data', 'library_version', 'architecture'): return
    path = os.path.join(TMP, 'meta.safetensors')
    try: bp.save_model(path, P, **{key: value})
    except (ValueError, TypeError) as e:
        assert names(str(e), 'meta') and repr(key) in str(e), str(e)
        return
    assert bp.load_model(path)[1][key] == value


@settings(max_examples=40, deadline=None)
@given(edits=st.lists(st.tuples(st.integers(0, 10**4), st.integers(0, 255)), min_size=1,
                      max_size=4),
       cut=st.integers(0, 10**4))
def test_load_model_mutated_file(edits, cut):
    """A valid file, a few bytes changed, maybe cut short: ValueError, or the same model only if
    unchanged."""
    good = open(MODEL, 'rb').read()
    b = bytearray(good)
    for i, v in edits: b[i % len(b)] = v
    b = bytes(b[:len(good) - cut % 64 if cut % 3 == 0 else len(good)])
    path = os.path.join(TMP, 'mutated.safetensors')
    with open(path, 'wb') as f: f.write(b)
    if b == good:
        assert all(torch.equal(a, c) for a, c in zip(bp.load_model(path)[0].params(), P))
        return
    with pytest.raises(ValueError, match='is not a valid model file'): bp.load_model(path)


# malformed inputs that once passed without any error (the caller got garbage, or waited forever):
# each must now be refused
SILENT = [
    ('xor_data(dtype=torch.int64) returns integer '
     'tensors', lambda: bp.xor_data(dtype=torch.int64), 'dtype'),
    ('init_params(dtype=torch.complex64) returns complex weights',
     lambda: bp.init_params(dtype=torch.complex64), 'dtype'),
    ('moons(noise=1e39) returns inf', lambda: bp.moons(noise=1e39), 'noise'),
    ('spirals(turns=1e308) returns NaN', lambda: bp.spirals(turns=1e308), 'turns'),
    ('circles(factor=1e39) returns inf', lambda: bp.circles(factor=1e39), 'factor'),
    ('gaussians(distance=1e308) returns inf', lambda: bp.gaussians(distance=1e308), 'distance'),
    ('moons(seed=2**64) gives "Overflow when unpacking long '
     'long"', lambda: bp.moons(seed=2**64), 'seed'),
    ('moons(n=10**12) fails in the allocator', lambda: bp.moons(n=10**12), 'n'),
    ("xor_data(device='meta') is accepted, then fails in .item()",
     lambda: bp.xor_data(device='meta'), 'device'),
    ('accuracy of an empty batch is NaN',
     lambda: bp.accuracy(torch.zeros(0, 1), torch.zeros(0, 1)), 'y_pred'),
    ('results_table with y None gives AttributeError', lambda: bp.results_table(X, None, YP), 'y'),
    ('results_table with a transposed y gives a wrong '
     'table', lambda: bp.results_table(X, Y.T, YP), 'y'),
    ('train(epochs=10**12) runs for days', lambda: bp.train(X, Y, P, epochs=10**12), 'epochs'),
    ('fit(epochs=10**12) runs for days', lambda: _fit(None, X=X, y=Y, epochs=10**12), 'epochs'),
    ('Trainer.step(10**12) runs for days', lambda: _trainer_step(10**12), 'n'),
    ('fit on an empty batch gives a NaN loss', lambda: _fit(None, X=X[:0], y=Y[:0], epochs=1), 'X'),
    ('train_ensemble(lr=1e308) returns all-NaN weights',
     lambda: bp.train_ensemble(X, Y, bp.init_ensemble([0, 1]), lr=1e308, epochs=50), 'lr'),
    # the last update diverging: non-finite weights returned as if trained
    ('train(lr=1e39, epochs=1) returns inf '
     'weights', lambda: bp.train(X, Y, P, lr=1e39, epochs=1), 'lr'),
    ('train_autograd(lr=1e39, epochs=1) '
     'too', lambda: bp.train_autograd(X, Y, P, lr=1e39, epochs=1), 'lr'),
    ('fit(lr=1e39, epochs=1) '
     'too', lambda: bp.fit(n := _net(), bp.MSELoss(), bp.SGD(n.params(), 1e39), X, Y,
                                                  epochs=1), 'lr'),
    ('train_ensemble(lr=1e39, epochs=1) too',
     lambda: bp.train_ensemble(X, Y, bp.init_ensemble([0, 1]), lr=1e39, epochs=1), 'lr'),
    ('solves(lr=1e39, epochs=1) too', lambda: bp.solves(X, Y, [0, 1], lr=1e39, epochs=1), 'lr'),
    ('Trainer(lr=1e39).step(1) leaves an all-NaN '
     'state', lambda: bp.Trainer(X, Y, lr=1e39).step(1), 'lr'),
    ('grad_gaps(lr=1e39) gives NaN gaps', lambda: bp.grad_gaps(X, Y, P, lr=1e39, epochs=1), 'lr'),
    # optimisers over other parameters: nothing trained, part of it, or a crash mid-loop
    ('fit with an optimiser over another network trains nothing',
     lambda: bp.fit(_net(), bp.MSELoss(), bp.SGD(_net().params(), 1.0), X, Y, epochs=3), 'opt'),
    ('fit with an optimiser over half the network trains half',
     lambda: bp.fit(n := _net(), bp.MSELoss(), bp.SGD(n.params()[:2], 1.0), X, Y, epochs=3), 'opt'),
    ('numerical_grad(dtype=None) returns a zero gradient',
     lambda: bp.numerical_grad(lambda q: (q[0] ** 2).sum(), [X], dtype=None), 'dtype'),
    ('numerical_grad on 4e6 entries runs for hours',
     lambda: bp.numerical_grad(lambda q: q[0].sum(), [torch.zeros(2000, 2000)]), 'params'),
    ('init_ensemble of 50,000 seeds takes '
     'seconds', lambda: bp.init_ensemble([0] * 50_000), 'seeds'),
    ('solves over range(10**7) takes '
     'minutes', lambda: bp.solves(X, Y, range(10**7), epochs=1), 'seeds'),
    ('an empty ensemble gives IndexError',
     lambda: bp.train_ensemble(X, Y, bp.Params(*(t[:0] for t in PE)), epochs=1), 'P'),
    ('Trainer.gradients with l2 = nan gives NaN '
     'gradients', lambda: _trainer_gradients(l2=math.nan), 'l2'),
    ('Trainer.predict(None) gives AttributeError', lambda: _trainer_view('predict', None), 'X'),
    ('save_model of a float16 network writes a file load_model refuses',
     lambda: bp.save_model(os.path.join(TMP, 'h.safetensors'), _half()), 'net'),
]

def _half():
    net = _net()
    net.layers[0].W = net.layers[0].W.half()
    return net


@pytest.mark.parametrize('what, call, arg', SILENT, ids=[w.split(' ')[0] for w, _, _ in SILENT])
def test_not_silently_accepted(what, call, arg):
    with pytest.raises((ValueError, TypeError, bp.DivergenceError)) as e: call()
    assert names(str(e.value), arg), str(e.value)
