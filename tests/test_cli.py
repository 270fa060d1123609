"""`backprop-train` as a user meets it: real processes, exit codes, stderr, files on disk. Runs are
started in parallel to keep this fast."""
import json, os, signal, subprocess, sys, time
import pytest
import torch
from backprop_nbdev import (xor_data, init_params, train, Trainer, moons, mlp, save_model,
                            load_model, LOSSES)
from backprop_nbdev.io import FORMAT, FORMAT_VERSION
from _helpers import write_model_file

CLI = [sys.executable, '-m', 'backprop_nbdev.cli']
# the console script, once installed
SCRIPT = os.path.join(os.path.dirname(sys.executable), 'backprop-train')
EPOCHS = '300'
# not the course's network
NET = ('--dataset', 'moons', '--activation', 'tanh', '--depth', '2', '--loss', 'bce', '--epochs',
       '200')


def start(*args, cmd=CLI, cwd=None, preexec_fn=None):
    return subprocess.Popen([*cmd, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=cwd,
                            env={**os.environ, 'MPLBACKEND': 'Agg'}, preexec_fn=preexec_fn)


def finish(procs):
    "Wait for every process; return name -> (exit code, stdout, stderr)."
    return {name: (lambda so_se: (p.returncode, *so_se))(p.communicate(timeout=120))
            for name, p in procs.items()}


def odd_files(d):
    """Model files a user could be handed: float seed, list as dataset, float16 tensors with a valid
    checksum."""
    X, y = xor_data()
    save_model(d / 'float_seed.safetensors', init_params(), data=(X, y), seed=1.5, dataset='xor')
    save_model(d / 'list_dataset.safetensors', init_params(), data=(X, y), seed=42, dataset=['xor'])
    net = mlp([2, 3, 1], out_act='sigmoid')
    tensors = {f'{k}{i}': p.half() for i, l in enumerate(net.layers[::2], 1) for k, p in (('W',
                                                                                           l.W),
                                                                                           ('b',
                                                                                            l.b))}
    info = dict(format=FORMAT, format_version=FORMAT_VERSION, library_version='0.1.0', meta={},
                architecture=dict(sizes=[2, 3, 1], activation='sigmoid', loss='mse',
                                  dtype='float16'))
    write_model_file(d / 'half.safetensors', info, tensors)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp('cli')
    a, b, n1, n2 = d / 'a', d / 'b', d / 'n1', d / 'n2'
    odd_files(d)
    first = finish(dict(
        help=start('--help'),
        a=start('--epochs', EPOCHS, '--out', str(a), '--no-progress'),
        b=start('--epochs', EPOCHS, '--out', str(b), '--quiet'),
        lr_neg=start('--lr', '-1'),
        lr_text=start('--lr', 'abc'),
        diverge=start('--lr', '1e39', '--epochs', '50', '--no-progress'),
        net1=start(*NET, '--out', str(n1), '--no-progress'),
        net2=start(*NET, '--out', str(n2), '--quiet'),
        bad_depth=start('--depth', '5'),
        huge_hidden=start('--hidden', '100000000'),
        hidden_1025=start('--hidden', '1025', '--activation', 'tanh'),
        huge_seed=start('--seed', '18446744073709551616'),
        huge_epochs=start('--epochs', str(10**12)),
        float_seed=start('--load', str(d / 'float_seed.safetensors')),
        list_dataset=start('--load', str(d / 'list_dataset.safetensors')),
        half=start('--load', str(d / 'half.safetensors')),
        directory=start('--load', str(d)),
    ))
    corrupt = d / 'corrupt.safetensors'
    raw = bytearray((a / 'model.safetensors').read_bytes())
    raw[-2] ^= 0x10
    corrupt.write_bytes(bytes(raw))
    second = finish(dict(
        load_a=start('--load', str(a / 'model.safetensors')),
        load_corrupt=start('--load', str(corrupt)),
        load_net=start('--load', str(n1 / 'model.safetensors')),
    ))
    return dict(first, **second, dirs=(a, b), net_dirs=(n1, n2))


def test_help_is_complete(runs):
    code, out, err = runs['help']
    assert code == 0 and err == ''
    for opt in ('--dataset', '--hidden', '--depth', '--activation', '--loss', '--lr', '--epochs',
                '--seed',
                '--dtype', '--out', '--load', '--no-progress', '--quiet', '--version'):
        assert opt in out, opt
    for default in ('(default: xor)', '(default: 3)', '(default: 1)', '(default: sigmoid)',
                    '(default: mse)',
                    '(default: 1.0)', '(default: 5000)', '(default: 42)', '(default: float32)'):
        assert default in out, default
    flat = ' '.join(out.split())
    assert 'exit codes' in out and '{sigmoid,tanh,relu}' in out and '{mse,bce}' in out
    assert ('units in each hidden layer, 1-1024' in flat and 'hidden layers, 1-4' in flat
            and '1-1,000,000' in flat)


def test_run_writes_everything(runs):
    code, out, err = runs['a']
    a = runs['dirs'][0]
    assert code == 0 and err == ''
    assert 'xor: 2-3-1 sigmoid network, float32' in out and 'final loss' in out and 'wrote' in out
    assert sorted(p.name for p in a.iterdir()) == ['boundary.png', 'loss.png', 'losses.json',
                                                   'model.safetensors']
    for png in ('loss.png', 'boundary.png'):
        data = (a / png).read_bytes()
        assert data[:8] == b'\x89PNG\r\n\x1a\n' and len(data) > 5000
    net, meta = load_model(a / 'model.safetensors', expect_data=xor_data())
    assert (meta['epochs'], meta['seed'], meta['dataset'], meta['lr']) == (300, 42, 'xor', 1.0)


def test_quiet_prints_nothing(runs):
    assert runs['b'] == (0, '', '')


def test_same_args_bit_identical(runs):
    """Two separate processes, same seed and arguments: the same loss history and model file, byte
    for byte."""
    net_epochs = int(NET[NET.index('--epochs') + 1])
    for (a, b), epochs in ((runs['dirs'], int(EPOCHS)), (runs['net_dirs'], net_epochs)):
        la = json.loads((a / 'losses.json').read_text())
        lb = json.loads((b / 'losses.json').read_text())
        assert len(la) == epochs and la == lb
        assert (a / 'model.safetensors').read_bytes() == (b / 'model.safetensors').read_bytes()


def test_cli_equals_library(runs):
    """The CLI runs the library: the course's `train` for the defaults, a Trainer for the rest, bit
    for bit."""
    X, y = xor_data()
    _, losses = train(X, y, init_params(seed=42), lr=1.0, epochs=int(EPOCHS))
    assert json.loads((runs['dirs'][0] / 'losses.json').read_text()) == losses
    t = Trainer(*moons(seed=42), hidden=3, depth=2, activation='tanh', loss='bce',
                seed=42).step(200)
    n1 = runs['net_dirs'][0]
    assert json.loads((n1 / 'losses.json').read_text()) == t.history
    net, meta = load_model(n1 / 'model.safetensors', expect_data=moons(seed=42))
    assert all(torch.equal(a, b) for a, b in zip(t.net.params(), net.params()))
    assert repr(net) == 'Sequential(Linear(2, 3), Tanh(), Linear(3, 3), Tanh(), Linear(3, 1))'
    assert meta['architecture'] == dict(sizes=[2, 3, 3, 1], activation='tanh', loss='bce',
                                        dtype='float32')


@pytest.mark.parametrize('name, message', [
    ('lr_neg', 'lr must be a finite number > 0, got -1.0'),
    ('lr_text', "argument --lr: invalid float value: 'abc' (see --help)"),
    ('bad_depth', 'depth must be an integer >= 1 and <= 4, got 5'),
    ('huge_hidden', 'hidden must be an integer >= 1 and <= 1024, got 100000000'),
    ('hidden_1025', 'hidden must be an integer >= 1 and <= 1024, got 1025'),
    ('huge_seed', 'seed must be an integer >= 0 and <= 18446744073709551615, got '
                  '18446744073709551616'),
    ('huge_epochs', 'epochs must be an integer >= 1 and <= 1000000, got 1000000000000'),
])
def test_bad_argument_exit_2_one_line(runs, name, message):
    assert runs[name] == (2, '', f'backprop-train: error: {message}\n')


@pytest.mark.parametrize('name, message', [
    ('float_seed', 'the seed in'), ('list_dataset', "names the dataset ['xor'] (list)"),
    ('half', 'is not a network this version can build'), ('directory', 'got the directory'),
    ('load_corrupt', 'checksum does not match'),
])
def test_bad_model_file_exit_2_one_line(runs, name, message):
    code, out, err = runs[name]
    assert code == 2 and out == '' and err.count('\n') == 1, runs[name]
    assert err.startswith('backprop-train: error: ') and message in err and 'Traceback' not in err


def test_divergence_exit_3(runs):
    code, out, err = runs['diverge']
    assert code == 3 and err.count('\n') == 1
    assert (err.startswith('backprop-train: error: training diverged at epoch')
            and 'lower the learning rate' in err)


def test_load_evaluates(runs):
    for name, d, text in (
            ('load_a', runs['dirs'][0], 'xor, 2-3-1 sigmoid network, float32, mse loss '),
            ('load_net', runs['net_dirs'][0], 'moons, 2-3-3-1 tanh network, float32, bce loss ')):
        code, out, err = runs[name]
        net, meta = load_model(d / 'model.safetensors')
        X, y = (xor_data() if meta['dataset'] == 'xor' else moons(seed=42))
        L = LOSSES[meta['architecture']['loss']]()(net(X), y).item()
        assert (code, err) == (0, '') and out.startswith(
            f"{d / 'model.safetensors'}: {text}{L:.7g}, accuracy "), out


def test_interrupt_keeps_what_was_learned(tmp_path):
    "Ctrl-C during training: exit 130, and the model and losses of the epochs done are written."
    p = start('--dataset', 'moons', '--hidden', '16', '--depth', '3', '--epochs', '1000000',
              '--out', str(tmp_path), '--no-progress')
    line = p.stdout.readline()                       # the header line: training has started
    assert line.startswith('moons: 2-16-16-16-1'), line
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (out, err)
    assert 'interrupted at epoch' in err and 'Traceback' not in err
    losses = json.loads((tmp_path / 'losses.json').read_text())
    net, meta = load_model(tmp_path / 'model.safetensors')
    assert 0 < len(losses) == meta['epochs'] < 1000000 and meta['final_loss'] == losses[-1]


@pytest.mark.skipif(not os.path.exists(SCRIPT),
                    reason='console script backprop-train not installed (pip install -e .)')
def test_console_script(tmp_path):
    r = finish(dict(help=start('--help', cmd=[SCRIPT]), bad=start('--lr', '0', cmd=[SCRIPT])))
    assert r['help'][0] == 0 and '--epochs' in r['help'][1]
    assert r['bad'] == (2, '', 'backprop-train: error: lr must be a finite number > 0, got 0.0\n')


def test_cli_does_not_import_widgets():
    code = ("import sys, backprop_nbdev.cli; "
            "print(sorted(m for m in ('ipywidgets', 'anywidget') if m in sys.modules))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == '[]', r


def _file_size_limit(n):
    """For preexec_fn: files this process writes are cut off at n bytes (as a full disk would cut
    them)."""
    import resource
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))


def test_out_is_checked_before_training_and_written_whole_or_reported(tmp_path):
    """Output names inside --out taken by a FIFO, directory, link or read-only file: exit 2 before
    any work, nothing touched. A diverging run leaves no empty --out a write cut off says what
    was and was not written."""
    cases = {}
    for kind in ('fifo', 'dir', 'link', 'readonly'):
        d = tmp_path / kind
        d.mkdir()
        target = d / ('model.safetensors' if kind == 'readonly' else 'losses.json')
        if kind == 'fifo': os.mkfifo(target)
        if kind == 'dir': target.mkdir()
        if kind == 'link': os.symlink('/dev/null', target)
        if kind == 'readonly':
            target.write_text('keep')
            target.chmod(0o444)
        cases[kind] = (d, target)
    procs = {k: start('--epochs', '10', '--out', str(d), '--quiet') for k, (d, _) in cases.items()}
    procs['diverged'] = start('--lr', '1e39', '--epochs', '1', '--out',
                              str(tmp_path / 'new' / 'run'),
                              '--quiet')
    procs['fsize'] = start('--epochs', '10', '--out', str(tmp_path / 'cut'), '--quiet',
                           preexec_fn=_file_size_limit(4096))
    r = finish(procs)
    for k, (d, target) in cases.items():
        code, out, err = r[k]
        assert code == 2 and out == '' and err.count('\n') == 1 and 'Traceback' not in err, (k,
                                                                                             r[k])
        assert f"--out's {target.name} must be" in err, err
        assert sorted(p.name for p in d.iterdir()) == [target.name]
    assert (tmp_path / 'readonly' / 'model.safetensors').read_text() == 'keep'
    assert r['diverged'][0] == 3 and not (tmp_path / 'new').exists(), r['diverged']
    code, out, err = r['fsize']
    cut = tmp_path / 'cut'
    assert code == 1 and err.count('\n') == 1 and 'Traceback' not in err, r['fsize']
    assert err.startswith('backprop-train: error: could not write the results '
                          '(') and 'File too large' in err
    wrote = (f"; wrote {cut / 'model.safetensors'}, {cut / 'losses.json'}; "
             f"not written: {cut / 'loss.png'}")
    assert wrote in err
    # no partial file
    assert sorted(p.name for p in cut.iterdir()) == ['losses.json', 'model.safetensors']
    load_model(cut / 'model.safetensors')


def test_bad_load_targets_exit_2(tmp_path):
    "A FIFO, a 3 GiB claim in a sparse file, deep metadata: one line, exit 2, quickly."
    os.mkfifo(tmp_path / 'fifo')
    r = finish(dict(fifo=start('--load', str(tmp_path / 'fifo')), null=start('--load',
                                                                             '/dev/null')))
    for k in r:
        code, out, err = r[k]
        assert code == 2 and err.count('\n') == 1 and 'Traceback' not in err, (k, r[k])


@pytest.mark.skipif(not os.path.exists(SCRIPT),
                    reason='console script backprop-train not installed (pip install -e .)')
@pytest.mark.parametrize('delay', [0.3, 0.8])   # after Python's own start-up
def test_interrupt_while_starting(tmp_path, delay):
    "Ctrl-C in the first moments, while torch is still loading: one line, exit 130, no traceback."
    p = start('--epochs', '1000000', '--out', str(tmp_path / 'run'), '--no-progress', cmd=[SCRIPT])
    time.sleep(delay)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130 and 'Traceback' not in err, (out, err)
    assert len(err.splitlines()) == 1 and err.startswith('backprop-train: error: interrupted'), err
