"""The doors: each entry point a user calls refuses bad input with a message naming the argument, stops
cleanly on Ctrl-C keeping what it learned, and runs small networks on one thread. (test_fuzz.py throws random
junk at the same doors; these are the named cases a lesson would otherwise carry as a wall of test_fail.)"""
import os, signal, subprocess, sys, textwrap, threading, time
import pytest, torch
import backprop_nbdev as bp
from backprop_nbdev.checks import check_device

X, Y = bp.xor_data()
P = bp.init_params()


@pytest.mark.parametrize('call, message', [
    (lambda: bp.train(X, Y, P, lr=0), 'lr must be a finite number > 0, got 0'),
    (lambda: bp.train(X, Y, P, epochs=-1), 'epochs must be an integer >= 0 and <= 1000000, got -1'),
    (lambda: bp.train(X, Y[:3], P), 'y must have 4 rows, got a torch.float32 tensor of shape (3, 1)'),
    (lambda: bp.train(X[:, :1], Y, P), 'X must have 2 columns'),
    (lambda: bp.train(X.long(), Y, P), 'X must be a floating-point tensor'),
    (lambda: bp.train(X, torch.full_like(Y, float('nan')), P), 'y must hold only finite values'),
    (lambda: bp.train(X, Y, P._replace(W1=P.W1 * float('nan'))), 'params.W1 must hold only finite values'),
    (lambda: bp.train(X, Y, tuple(P)), 'params must be a Params(W1, b1, W2, b2)'),
    (lambda: bp.train(X.double(), Y.double(), P), 'X must have the dtype of params (torch.float32)'),
    (lambda: bp.init_params(hidden_size=0), 'hidden_size must be an integer >= 1, got 0'),
    (lambda: bp.init_params(seed=2**64), 'seed must be an integer >= 0 and <= 18446744073709551615'),
    (lambda: bp.init_params(scale=3e38),
     "scale (a number or 'xavier') must be a finite number > 0 and <= 10000"),
    (lambda: bp.init_params(hidden_size=10**15), 'must give at most 100,000,000 weights'),
    (lambda: bp.predict(X[:, :1], P), 'X must have 2 columns'),
    (lambda: bp.accuracy(X[:, :1], Y * 2), 'y must hold only 0/1 labels'),
    (lambda: bp.mlp([2, 0, 1]), 'sizes[1] must be an integer >= 1, got 0'),
    (lambda: bp.mlp([2, 3, 1], act='gelu'),
     "act must be one of ['sigmoid', 'tanh', 'relu'], got 'gelu' (str)"),
    (lambda: bp.mlp([2]), 'sizes must be a list of at least two layer sizes'),
    (lambda: bp.Linear(torch.zeros(2, 3), torch.zeros(4)), 'b must have shape (3,) to match W (2, 3)'),
    (lambda: bp.Sequential(bp.Tanh(), torch.tanh), 'layers[1] must be a Layer'),
    (lambda: bp.SGD([], 0.1), 'params must be a non-empty list of tensors'),
    (lambda: bp.Momentum([torch.zeros(1)], 0.1, beta=1.0),
     'beta must be a finite number >= 0 and <= 0.999, got 1.0'),
    (lambda: bp.fit(bp.mlp([2, 3, 1]), torch.nn.functional.mse_loss, bp.SGD([torch.zeros(1)], 1.), X, Y),
     'loss must be a Loss'),
    (lambda: bp.fit(bp.mlp([2, 3, 1]), bp.BCEWithLogitsLoss(), bp.SGD([torch.zeros(1)], 1.), X, 2 * Y),
     'y must hold targets in [0, 1]'),
    (lambda: bp.fit(bp.mlp([2, 3, 1]), bp.MSELoss(), bp.SGD([torch.zeros(1)], 1.), X, Y, batch_size=0),
     'batch_size must be an integer >= 1, got 0'),
    (lambda: bp.fit(bp.mlp([2, 3, 1]), bp.MSELoss(), bp.SGD([torch.zeros(1)], 1.), X, Y, l2=-1),
     'l2 must be a finite number >= 0'),
    (lambda: bp.fit(bp.mlp([2, 3, 10]), bp.SoftmaxCrossEntropy(), bp.SGD([torch.zeros(1)], 1.), X, Y),
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
    (lambda: bp.decision_grid(P, bounds=(1, 0, 0, 1)), 'bounds must be (x_min, x_max, y_min, y_max)'),
    (lambda: bp.decision_grid(P, n=1), 'n must be an integer >= 2 and <= 4096, got 1'),
    (lambda: bp.decision_grid('P'), 'model must be Params or a function'),
    (lambda: bp.plot_decision_boundary(P, X, Y[:3]), 'y must have 4 rows'),
    (lambda: bp.plot_decision_boundary(P, X, Y, cmap='no_such_map'),
     "cmap must be a matplotlib colormap or its name, got 'no_such_map'"),
    (lambda: bp.plot_loss([]), 'losses must be a non-empty sequence'),
    (lambda: bp.plot_loss([0.3, -1.0]), 'losses must be finite and >= 0'),
    (lambda: bp.numerical_grad(lambda ts: ts[0], [X]), 'f must return a scalar loss'),
    (lambda: bp.numerical_grad(lambda ts: ts[0].sum(), [X], eps=0), 'eps must be a finite number > 0, got 0'),
    (lambda: bp.compare_grads(list(P), list(P)[:3]), 'reference must hold 4 tensors like mine, got 3'),
    (lambda: bp.check_backward(3), 'fn must be a function'),
    (lambda: bp.check_backward(bp.backward_steps, loss='l1'),
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
    assert bp.train(X, Y, P, epochs=0) == (P, [])


def _sigint_when_handled(after=0.2):
    "Send SIGINT to this process once training has installed its Ctrl-C handler (and `after` s more)."
    def go():
        while signal.getsignal(signal.SIGINT) is signal.default_int_handler: time.sleep(0.005)
        time.sleep(after)
        os.kill(os.getpid(), signal.SIGINT)
    threading.Thread(target=go, daemon=True).start()


@pytest.mark.parametrize('run', ['train', 'fit', 'trainer', 'ensemble'])
def test_interrupt_stops_cleanly_and_keeps_what_was_learned(run, capfd):
    "Ctrl-C (SIGINT, like the notebook's stop button) ends training between epochs: no exception, work kept."
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    _sigint_when_handled()
    if run == 'train':
        p, losses = bp.train(X, Y, P, epochs=bp.max_epochs)
        assert 0 < len(losses) < bp.max_epochs
        # consistent: exactly len(losses) updates
        assert torch.equal(bp.train(X, Y, P, epochs=len(losses))[0].W1, p.W1)
    elif run == 'fit':
        net = bp.mlp([2, 3, 1], out_act='sigmoid')
        losses = bp.fit(net, bp.MSELoss(), bp.SGD(net.params(), 1.0), X, Y, epochs=bp.max_epochs)
        assert 0 < len(losses) < bp.max_epochs
    elif run == 'trainer':
        t = bp.Trainer(X, Y).step(bp.max_epochs)
        assert 0 < t.epoch == len(t.history) < bp.max_epochs
        assert t.history == bp.Trainer(X, Y).step(t.epoch).history
    else:
        Pe, L = bp.train_ensemble(X, Y, bp.init_ensemble([0, 1]), epochs=bp.max_epochs)
        assert 0 < len(L) < bp.max_epochs and bool(torch.isfinite(L).all())
    assert 'interrupted after' in capfd.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler      # the handler is put back


def test_second_interrupt_is_immediate():
    "Ctrl-C twice interrupts at once: the escape hatch when an epoch is slow (here an on_epoch that sleeps)."
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
    assert 'KeyboardInterrupt' in r.stdout and time.time() - t0 < 9, r


def test_small_networks_train_on_one_thread():
    "Without the user asking, a small network trains on one torch thread; the setting is restored afterwards."
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
