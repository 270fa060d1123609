"""The doors: each entry point a user calls refuses bad input with a message naming the argument,
stops cleanly on Ctrl-C keeping what it learned, and runs small networks on one thread.
(test_fuzz.py throws random junk at the same doors these are the named cases a lesson would
otherwise carry as a wall of test_fail.)"""
import os, re, signal, subprocess, sys, textwrap, threading, time
import numpy as np
import pytest, torch
import backprop_nbdev as bp
from backprop_nbdev.checks import check_device
from backprop_nbdev.diagnosis import check_backward
from backprop_nbdev.loop import max_epochs

X, Y = bp.xor_data()
P = bp.init_params()


def own(sizes, loss=None):
    "A network, a loss and an SGD over the network's own parameters: fit's first three arguments."
    net = bp.mlp(sizes)
    return net, loss or bp.MSELoss(), bp.SGD(net.params(), 1.0)


@pytest.mark.parametrize('call, message', [
    (lambda: bp.train(X, Y, P, lr=0), 'lr must be a finite number > 0, got 0'),
    (lambda: bp.train(X, Y, P, epochs=-1), 'epochs must be an integer >= 0 and <= 1000000, got -1'),
    (lambda: bp.train(X, Y[:3], P), 'y must have 4 rows, got a torch.float32 tensor of shape (3, '
                                    '1)'),
    (lambda: bp.train(X[:, :1], Y, P), 'X must have 2 columns'),
    (lambda: bp.train(X.long(), Y, P), 'X must be a floating-point tensor'),
    (lambda: bp.train(X, torch.full_like(Y, float('nan')), P), 'y must hold only finite values'),
    (lambda: bp.train(X, Y, P._replace(W1=P.W1 * float('nan'))), 'params.W1 must hold only finite '
                                                                 'values'),
    (lambda: bp.train(X, Y, tuple(P)), 'params must be a Params(W1, b1, W2, b2)'),
    (lambda: bp.train(X.double(), Y.double(), P), 'X must have the dtype of params '
                                                  '(torch.float32)'),
    (lambda: bp.init_params(hidden_size=0), 'hidden_size must be an integer >= 1, got 0'),
    (lambda: bp.init_params(seed=2**64), 'seed must be an integer >= 0 and <= '
                                         '18446744073709551615'),
    (lambda: bp.init_params(scale=3e38),
     "scale (a number or 'xavier') must be a finite number > 0 and <= 10000"),
    (lambda: bp.init_params(hidden_size=10**15), 'must give at most 100,000,000 weights'),
    (lambda: bp.predict(X[:, :1], P), 'X must have 2 columns'),
    (lambda: bp.accuracy(X[:, :1], Y * 2), 'y must hold only 0/1 labels'),
    (lambda: bp.mlp([2, 0, 1]), 'sizes[1] must be an integer >= 1, got 0'),
    (lambda: bp.mlp([2, 3, 1], act='gelu'),
     "act must be one of ['sigmoid', 'tanh', 'relu'], got 'gelu' (str)"),
    (lambda: bp.mlp([2]), 'sizes must be a list of at least two layer sizes'),
    (lambda: bp.Linear(torch.zeros(2, 3), torch.zeros(4)), 'b must have shape (3,) to match W (2, '
                                                           '3)'),
    (lambda: bp.Sequential(bp.Tanh(), torch.tanh), 'layers[1] must be a Layer'),
    (lambda: bp.SGD([], 0.1), 'params must be a non-empty list of tensors'),
    (lambda: bp.Momentum([torch.zeros(1)], 0.1, beta=1.0),
     'beta must be a finite number >= 0 and <= 0.999, got 1.0'),
    (lambda: bp.fit(bp.mlp([2, 3, 1]), torch.nn.functional.mse_loss, bp.SGD([torch.zeros(1)], 1.),
                    X, Y),
     'loss must be a Loss'),
    (lambda: bp.fit(*own([2, 3, 1], bp.BCEWithLogitsLoss()), X, 2 * Y), 'y must hold targets in '
                                                                        '[0, 1]'),
    (lambda: bp.fit(*own([2, 3, 1]), X, Y, batch_size=0), 'batch_size must be an integer >= 1, got '
                                                          '0'),
    (lambda: bp.fit(*own([2, 3, 1]), X, Y, l2=-1), 'l2 must be a finite number >= 0'),
    (lambda: bp.fit(*own([2, 3, 10], bp.SoftmaxCrossEntropy()), X, Y),
     'y must be a torch.long tensor of shape (4,)'),
    (lambda: bp.Trainer(X, Y, hidden=1025), 'hidden must be an integer >= 1 and <= 1024, got 1025'),
    (lambda: bp.Trainer(X, Y, depth=5), 'depth must be an integer >= 1 and <= 4, got 5'),
    (lambda: bp.Trainer(X, Y, loss='ce'), "loss must be one of ['mse', 'bce'], got 'ce' (str)"),
    (lambda: bp.Trainer(X, Y, X_test=X), 'X_test and y_test must be given together'),
    (lambda: bp.Trainer(X, 2 * Y), 'y must hold 0/1 labels'),
    (lambda: bp.Trainer(X, Y, lr=float('inf')), 'lr must be a finite number > 0, got inf'),
    (lambda: bp.moons(n=1), 'n must be an integer >= 2 and <= 1000000, got 1'),
    (lambda: bp.moons(noise=-0.1), 'noise must be a finite number >= 0 and <= 10, got -0.1'),
    (lambda: bp.circles(factor=0), 'factor must be a finite number > 0 and <= 10, got 0'),
    (lambda: bp.make_2d('swirl'),
     "name must be one of ['xor4', 'xor_cloud', 'circles', 'moons', 'spirals', 'gaussians'], "
     "got 'swirl' (str)"),
    (lambda: bp.split_data(X, Y, test_frac=1.0),
     'test_frac must be a finite number >= 0 and <= 0.9, got 1.0'),
    (lambda: bp.decision_grid(P, bounds=(1, 0, 0, 1)), 'bounds must be (x_min, x_max, y_min, '
                                                       'y_max)'),
    (lambda: bp.decision_grid(P, n=1), 'n must be an integer >= 2 and <= 4096, got 1'),
    (lambda: bp.decision_grid('P'), 'model must be Params or a function'),
    (lambda: bp.plot_decision_boundary(P, X, Y[:3]), 'y must have 4 rows'),
    (lambda: bp.plot_decision_boundary(P, X, Y, cmap='no_such_map'),
     "cmap must be a matplotlib colormap or its name, got 'no_such_map'"),
    (lambda: bp.plot_loss([]), 'losses must be a non-empty sequence'),
    (lambda: bp.plot_loss([0.3, -1.0]), 'losses must be finite and >= 0'),
    (lambda: bp.numerical_grad(lambda ts: ts[0], [X]), 'f must return a scalar loss'),
    (lambda: bp.numerical_grad(lambda ts: ts[0].sum(), [X], eps=0),
     'eps must be a finite number > 0 and <= 1, got 0'),
    (lambda: bp.compare_grads(list(P), list(P)[:3]), 'reference must hold 4 tensors like mine, got '
                                                     '3'),
    (lambda: check_backward(3), 'fn must be a function'),
    (lambda: check_backward(bp.backward_steps, loss='l1'),
     "loss must be one of ['mse', 'bce'], got 'l1' (str)"),
    (lambda: bp.stack_params([]), 'ps must be a non-empty list of Params'),
    (lambda: bp.member(bp.init_ensemble([0, 1]), 2), 'k must be a network index < 2, got 2'),
    (lambda: bp.train_ensemble(X, Y, bp.init_params()), 'P.W1 must have shape (N, n_in, n_hidden)'),
    (lambda: bp.results_table(X[:3], Y, Y), 'X must have 4 rows'),
    (lambda: check_device('meta'),
     "device must be a device this machine can compute on, such as 'cpu', got 'meta'"),
])
def test_door_names_the_argument(call, message):
    with pytest.raises((ValueError, TypeError)) as e: call()
    assert message in str(e.value), str(e.value)


def test_zero_epochs_is_nothing():
    p, losses = bp.train(X, Y, P, epochs=0)
    assert losses == [] and all(torch.equal(a, b) for a, b in zip(p, P))


def _sigint_when_handled(after=0.2):
    """Send SIGINT to this process once training has installed its Ctrl-C handler (and `after` s
    more)."""
    def go():
        while signal.getsignal(signal.SIGINT) is signal.default_int_handler: time.sleep(0.005)
        time.sleep(after)
        os.kill(os.getpid(), signal.SIGINT)
    threading.Thread(target=go, daemon=True).start()


@pytest.mark.parametrize('run', ['train', 'fit', 'trainer', 'ensemble'])
def test_interrupt_stops_cleanly_and_keeps_what_was_learned(run, capfd):
    """Ctrl-C (SIGINT, like the notebook's stop button) ends training between epochs: no exception,
    work kept."""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    _sigint_when_handled()
    if run == 'train':
        p, losses = bp.train(X, Y, P, epochs=max_epochs)
        assert 0 < len(losses) < max_epochs
        # consistent: exactly len(losses) updates
        assert torch.equal(bp.train(X, Y, P, epochs=len(losses))[0].W1, p.W1)
    elif run == 'fit':
        net = bp.mlp([2, 3, 1], out_act='sigmoid')
        losses = bp.fit(net, bp.MSELoss(), bp.SGD(net.params(), 1.0), X, Y, epochs=max_epochs)
        assert 0 < len(losses) < max_epochs
    elif run == 'trainer':
        t = bp.Trainer(X, Y).step(max_epochs)
        assert 0 < t.epoch == len(t.history) < max_epochs
        assert t.history == bp.Trainer(X, Y).step(t.epoch).history
    else:
        Pe, L = bp.train_ensemble(X, Y, bp.init_ensemble([0, 1]), epochs=max_epochs)
        assert 0 < len(L) < max_epochs and bool(torch.isfinite(L).all())
    assert 'interrupted after' in capfd.readouterr().err
    # the handler is put back
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_second_interrupt_is_immediate():
    """Ctrl-C twice interrupts at once: the escape hatch when an epoch is slow (here an on_epoch
    that sleeps)."""
    code = textwrap.dedent('''
        import os, signal, threading, time
        import backprop_nbdev as bp
        X, Y = bp.xor_data()
        net = bp.mlp([2, 3, 1], out_act='sigmoid')
        def twice():
            while signal.getsignal(signal.SIGINT) is signal.default_int_handler: time.sleep(0.005)
            for _ in range(2): time.sleep(0.3); os.kill(os.getpid(), signal.SIGINT)
        threading.Thread(target=twice, daemon=True).start()
        try: bp.fit(net, bp.MSELoss(), bp.SGD(net.params(), 1.0), X, Y, epochs=100, '''
                    '''on_epoch=lambda *a: time.sleep(10))
        except KeyboardInterrupt: print('KeyboardInterrupt')
    ''')
    t0 = time.time()
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    # without the second press, the sleeping epoch would end cleanly, printing nothing
    assert 'KeyboardInterrupt' in r.stdout and time.time() - t0 < 60, r


def test_small_networks_train_on_one_thread():
    """Without the user asking, a small network trains on one torch thread; the setting is restored
    afterwards."""
    torch.set_num_threads(2)
    seen = []
    net = bp.mlp([2, 8, 8, 1], 'tanh')
    bp.fit(net, bp.BCEWithLogitsLoss(), bp.SGD(net.params(), 0.5), *bp.moons(n=200), epochs=3,
           on_epoch=lambda e, n, l: seen.append(torch.get_num_threads()))
    assert seen == [1, 1, 1] and torch.get_num_threads() == 2
    big = bp.mlp([64, 512, 512, 10], 'tanh')
    Xb, yb = torch.randn(2000, 64), torch.randint(0, 10, (2000,))
    bp.fit(big, bp.SoftmaxCrossEntropy(), bp.SGD(big.params(), 0.1), Xb, yb, epochs=1,
           on_epoch=lambda e, n, l: seen.append(torch.get_num_threads()))
    assert seen[-1] == 2   # a large batch keeps the thread pool


# ---- every class of door the held-out fuzz found open, one test each ----

def _diverges(call):
    with pytest.raises(bp.DivergenceError) as e: call()
    return e.value


@pytest.mark.parametrize('name, call', [
    ('train', lambda: bp.train(X, Y, P, lr=1e39, epochs=1)),
    ('train_autograd', lambda: bp.train_autograd(X, Y, P, lr=1e39, epochs=1)),
    ('grad_gaps', lambda: bp.grad_gaps(X, Y, P, lr=1e39, epochs=1)),
    ('fit', lambda: bp.fit(n := bp.mlp([2, 3, 1], out_act='sigmoid'), bp.MSELoss(),
                           bp.SGD(n.params(), 1e39),
                           X, Y, epochs=1)),
    ('train_ensemble', lambda: bp.train_ensemble(X, Y, bp.init_ensemble([0, 1]), lr=1e39,
                                                 epochs=1)),
    ('solves', lambda: bp.solves(X, Y, [0, 1], lr=1e39, epochs=1)),
    ('Trainer.step', lambda: bp.Trainer(X, Y, lr=1e39).step(1)),
])
def test_divergence_on_the_last_update_is_reported(name, call):
    """lr 1e39 overflows float32 at the first update: the loss of epoch 1 is finite, the network
    after it not."""
    e = _diverges(call)
    assert e.epoch == 2 and not torch.isfinite(torch.tensor(e.loss)), (name, e)


def test_trainer_state_after_last_update_divergence():
    t = bp.Trainer(X, Y, lr=1e39)
    _diverges(lambda: t.step(1))
    assert (t.diverged, t.epoch, len(t.history)) == (2, 1, 1)


def test_graph_carrying_inputs_are_detached():
    "nn.Parameter inputs would chain one autograd graph through every epoch: the doors detach them."
    Pp = bp.Params(*(torch.nn.Parameter(p.clone()) for p in P))
    p, _ = bp.train(torch.nn.Parameter(X.clone()), Y, Pp, epochs=3)
    assert not any(t.requires_grad or t.grad_fn for t in p)
    Pe = bp.Params(*(torch.nn.Parameter(t.clone()) for t in bp.init_ensemble([0, 1])))
    q, L = bp.train_ensemble(X, Y, Pe, epochs=3)
    assert not any(t.requires_grad for t in q) and not L.requires_grad
    t = bp.Trainer(torch.nn.Parameter(X.clone()), Y).step(3)
    assert not t.X.requires_grad and not any(p.requires_grad for p in t.net.params())
    assert bp.train(X, Y, Pp, epochs=3)[1] == bp.train(X, Y, P, epochs=3)[1]   # same numbers


@pytest.mark.parametrize('opt, message', [
    (lambda net: bp.SGD(bp.mlp([2, 3, 1]).params(), 1.0), "got one over 4 tensors, 0 of them the "
                                                          "network's 4"),
    (lambda net: bp.SGD(net.params()[:2], 1.0), "got one over 2 tensors, 2 of them the network's "
                                                "4"),
    (lambda net: bp.SGD(bp.mlp([2, 5, 1]).params(), 1.0), "0 of them the network's 4"),
])
def test_fit_refuses_an_optimiser_over_other_parameters(opt, message):
    net = bp.mlp([2, 3, 1], out_act='sigmoid')
    before = [p.clone() for p in net.params()]
    with pytest.raises(ValueError, match="opt must update this network's own parameters") as e:
        bp.fit(net, bp.MSELoss(), opt(net), X, Y, epochs=5)
    assert message in str(e.value)
    assert all(torch.equal(a, b) for a, b in zip(before, net.params()))


@pytest.mark.parametrize('dtype', [None, 'float32', float, np.float32, torch.float16, torch.int64])
def test_numerical_grad_dtype_is_checked(dtype):
    with pytest.raises(TypeError, match='dtype must be torch.float32 or torch.float64'):
        bp.numerical_grad(lambda q: (q[0] ** 2).sum(), [X], dtype=dtype)


def test_numerical_grad_has_a_size_cap():
    from backprop_nbdev.gradcheck import max_entries
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=f'at most {max_entries:,} entries in all'):
        bp.numerical_grad(lambda q: q[0].sum(), [torch.zeros(2000, 2000)])
    assert time.perf_counter() - t0 < 1


@pytest.mark.parametrize('seeds, message', [([0] * 50_000, 'at most 10,000 seeds (max_networks), '
                                                           'got 50,000'),
                                            (range(10**7), 'got 10,000,000')])
def test_ensemble_sizes_are_capped(seeds, message):
    t0 = time.perf_counter()
    for call in (lambda: bp.init_ensemble(seeds), lambda: bp.solves(X, Y, seeds, epochs=1)):
        with pytest.raises(ValueError, match=re.escape(message)): call()
    with pytest.raises(ValueError, match='max_weights'):
        bp.init_ensemble([0] * 10, hidden_size=10**7)
    with pytest.raises(ValueError, match='losses table'):
        bp.train_ensemble(X, Y, bp.init_ensemble([0] * 200),
                                                                             epochs=10**6)
    assert time.perf_counter() - t0 < 2


def test_empty_ensemble_is_named():
    empty = bp.Params(*(t[:0] for t in bp.init_ensemble([0])))
    for call in (lambda: bp.member(empty, 0), lambda: bp.train_ensemble(X, Y, empty, epochs=1)):
        with pytest.raises(ValueError, match='P must hold at least one network'): call()
    with pytest.raises(ValueError, match='ps must be a non-empty list of Params'):
        bp.stack_params(None)


@pytest.mark.parametrize('bad', [lambda t: t.to_sparse(), lambda t: torch.empty(t.shape,
                                                                                device='meta')])
def test_sparse_and_meta_tensors_refused_at_every_matrix_check(bad):
    msg = 'must be a dense tensor holding numbers'
    for call in (lambda: bp.train(bad(X), Y, P), lambda: bp.train(X, bad(Y), P),
                 lambda: bp.train(X, Y, P._replace(W1=bad(P.W1))), lambda: bp.predict(bad(X), P),
                 lambda: bp.Linear(bad(torch.zeros(2, 3)), torch.zeros(3)),
                 lambda: bp.Trainer(bad(X), Y),
                 lambda: bp.fit(*own([2, 3, 1]), bad(X), Y), lambda: bp.split_data(bad(X), Y),
                 lambda: bp.train_ensemble(bad(X), Y, bp.init_ensemble([0])),
                 lambda: bp.numerical_grad(lambda q: q[0].sum(), [bad(X)])):
        with pytest.raises(TypeError, match=msg): call()


def test_trainer_views_and_gradients_check_their_input():
    t = bp.Trainer(X, Y)
    for call, msg in [(lambda: t.predict(None), 'X must be a torch.Tensor'),
                      (lambda: t.units(torch.zeros(3, 5)), 'X must have 2 columns'),
                      (lambda: t.predict(torch.full((2, 2), float('nan'))), 'X must hold only '
                                                                            'finite values')]:
        with pytest.raises((TypeError, ValueError), match=re.escape(msg)): call()
    t.l2 = float('nan')
    with pytest.raises(ValueError, match='l2 must be a finite number >= 0 and <= 1000, got nan'):
        t.gradients()
    t.l2, t.lr = 0.0, 'fast'
    with pytest.raises(TypeError, match="lr must be a finite number > 0, got 'fast'"): t.step(1)


def test_trainer_configs():
    t = bp.Trainer(X, Y, hidden=5, lr=0.5, batch_size=2)
    assert (t.net_config.hidden, t.step_config.lr, t.step_config.batch_size) == (5, 0.5, 2)
    t.lr = 0.25
    assert t.step_config.lr == 0.25
    with pytest.raises(TypeError, match="settings must be among"): bp.Trainer(X, Y, learning_rate=1)
    from backprop_nbdev.trainer import NET_SETTINGS, STEP_SETTINGS
    assert set(NET_SETTINGS).isdisjoint(STEP_SETTINGS)


def test_run_epoch_is_fits_epoch():
    "The public epoch engine: one full batch is exactly one of fit's epochs."
    from backprop_nbdev.optim import run_epoch, Batches
    a, b = bp.mlp([2, 3, 1], out_act='sigmoid'), bp.mlp([2, 3, 1], out_act='sigmoid')
    L = run_epoch(a, bp.MSELoss(), bp.SGD(a.params(), 1.0), Batches(X, Y), 0.0, 1, [])
    assert [L] == bp.fit(b, bp.MSELoss(), bp.SGD(b.params(), 1.0), X, Y, epochs=1)
    assert all(torch.equal(p, q) for p, q in zip(a.params(), b.params()))


@pytest.mark.parametrize('run', ['train_autograd', 'grad_gaps'])
def test_interrupt_autograd_loops(run, capfd):
    "Ctrl-C in the autograd lesson's loops: a clean stop with what was computed, no traceback."
    _sigint_when_handled()
    if run == 'train_autograd':
        p, losses = bp.train_autograd(X, Y, P, epochs=max_epochs)
        assert 0 < len(losses) < max_epochs
    else:
        gaps, sizes = bp.grad_gaps(X, Y, P, epochs=max_epochs)
        assert all(g >= 0 for g in gaps)
    assert 'interrupted after' in capfd.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_trainer_settings_become_plain_numbers():
    """A numpy integer is a fine seed or width: checked, then stored as int, so torch's generators
    take it."""
    t = bp.Trainer(X, Y, seed=np.int64(3), hidden=np.int64(4)).step(2)
    assert (type(t.seed), type(t.hidden), t.sizes) == (int, int, [2, 4, 1])
    assert t.history == bp.Trainer(X, Y, seed=3, hidden=4).step(2).history
