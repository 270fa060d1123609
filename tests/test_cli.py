"`backprop-train` as a user meets it: real processes, exit codes, stderr, files on disk. Runs are started in parallel to keep this fast."
import json, os, subprocess, sys
import pytest
import torch
from backprop_nbdev import xor_data, init_params, train, NetTrainer, BCEWithLogitsLoss, moons
from backprop_nbdev.io import load_model, load_net

CLI = [sys.executable, '-m', 'backprop_nbdev.cli']
SCRIPT = os.path.join(os.path.dirname(sys.executable), 'backprop-train')   # the console script, once installed
EPOCHS = '300'
NET = ('--dataset', 'moons', '--activation', 'tanh', '--depth', '2', '--loss', 'bce', '--epochs', '200')   # a run off the course's path


def start(*args, cmd=CLI, cwd=None):
    return subprocess.Popen([*cmd, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
                            env={**os.environ, 'MPLBACKEND': 'Agg'})


def finish(procs):
    "Wait for every process; return name -> (exit code, stdout, stderr)."
    out = {}
    for name, p in procs.items():
        so, se = p.communicate(timeout=120)
        out[name] = (p.returncode, so, se)
    return out


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp('cli')
    a, b, n1, n2 = d / 'a', d / 'b', d / 'n1', d / 'n2'
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
    ))
    corrupt = d / 'corrupt.safetensors'
    raw = bytearray((a / 'model.safetensors').read_bytes()); raw[-2] ^= 0x10
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
    for opt in ('--dataset', '--hidden', '--depth', '--activation', '--loss', '--lr', '--epochs', '--seed', '--dtype', '--out', '--load', '--no-progress', '--quiet', '--version'):
        assert opt in out, opt
    for default in ('(default: xor)', '(default: 3)', '(default: 1)', '(default: sigmoid)', '(default: mse)', '(default: 1.0)', '(default: 5000)', '(default: 42)', '(default: float32)'):
        assert default in out, default
    assert 'exit codes' in out and '{sigmoid,tanh,relu}' in out and '{mse,bce}' in out


def test_run_writes_everything(runs):
    code, out, err = runs['a']
    a = runs['dirs'][0]
    assert code == 0 and err == ''
    assert 'xor: 2-3-1 network, float32' in out and 'final loss' in out and 'wrote' in out
    assert sorted(p.name for p in a.iterdir()) == ['boundary.png', 'loss.png', 'losses.json', 'model.safetensors']
    for png in ('loss.png', 'boundary.png'):
        assert (a / png).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and (a / png).stat().st_size > 5000
    params, meta = load_model(a / 'model.safetensors', expect_data=xor_data())
    assert (meta['epochs'], meta['seed'], meta['dataset'], meta['lr']) == (300, 42, 'xor', 1.0)


def test_quiet_prints_nothing(runs):
    assert runs['b'] == (0, '', '')


def test_same_args_bit_identical(runs):
    "Two separate processes, same seed and arguments: identical loss history and an identical model file, byte for byte."
    a, b = runs['dirs']
    la, lb = json.loads((a / 'losses.json').read_text()), json.loads((b / 'losses.json').read_text())
    assert len(la) == int(EPOCHS) and la == lb
    assert (a / 'model.safetensors').read_bytes() == (b / 'model.safetensors').read_bytes()


def test_cli_equals_library(runs):
    "The command line runs the library's own train: same history as calling it directly in this process."
    X, y = xor_data()
    _, losses = train(X, y, init_params(seed=42), lr=1.0, epochs=int(EPOCHS))
    assert json.loads((runs['dirs'][0] / 'losses.json').read_text()) == losses


@pytest.mark.parametrize('name, message', [
    ('lr_neg', 'backprop-train: error: lr must be a finite number > 0, got -1.0\n'),
    ('lr_text', "backprop-train: error: argument --lr: invalid float value: 'abc' (see --help)\n"),
])
def test_bad_argument_exit_2_one_line(runs, name, message):
    assert runs[name] == (2, '', message)


def test_divergence_exit_3(runs):
    code, out, err = runs['diverge']
    assert code == 3 and err.count('\n') == 1
    assert err.startswith('backprop-train: error: training diverged at epoch') and 'lower the learning rate' in err
    assert 'Traceback' not in err


def test_load_evaluates(runs):
    code, out, err = runs['load_a']
    assert code == 0 and err == ''
    assert 'xor, 2-3-1 network, float32, loss ' in out and 'accuracy ' in out


def test_corrupt_model_exit_2(runs):
    code, out, err = runs['load_corrupt']
    assert code == 2 and out == '' and err.count('\n') == 1
    assert err.startswith('backprop-train: error: ') and 'checksum does not match' in err


@pytest.mark.skipif(not os.path.exists(SCRIPT), reason='console script backprop-train not installed (pip install -e . after console_scripts is set)')
def test_console_script(tmp_path):
    r = finish(dict(help=start('--help', cmd=[SCRIPT]), bad=start('--lr', '0', cmd=[SCRIPT])))
    assert r['help'][0] == 0 and '--epochs' in r['help'][1]
    assert r['bad'] == (2, '', 'backprop-train: error: lr must be a finite number > 0, got 0.0\n')


def test_net_run_writes_everything(runs):
    code, out, err = runs['net1']
    n1 = runs['net_dirs'][0]
    assert code == 0 and err == ''
    assert out.startswith('moons: 2-3-3-1 tanh network, float32, bce, lr 1, 200 epochs, seed 42\nfinal loss ') and 'wrote' in out
    assert sorted(p.name for p in n1.iterdir()) == ['boundary.png', 'loss.png', 'losses.json', 'model.safetensors']
    for png in ('loss.png', 'boundary.png'):
        assert (n1 / png).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and (n1 / png).stat().st_size > 5000
    net, meta = load_net(n1 / 'model.safetensors', expect_data=moons(seed=42))
    assert repr(net) == 'Sequential(Linear(2, 3), Tanh(), Linear(3, 3), Tanh(), Linear(3, 1))'
    assert meta['architecture'] == dict(sizes=[2, 3, 3, 1], activation='tanh', depth=2, output='logits', loss='bce', dtype='float32')
    assert (meta['epochs'], meta['seed'], meta['dataset'], meta['lr'], meta['format_version']) == (200, 42, 'moons', 1.0, 2)


def test_net_same_args_bit_identical(runs):
    "Two processes with the same non-default arguments: identical loss history and model file, byte for byte."
    n1, n2 = runs['net_dirs']
    assert runs['net2'] == (0, '', '')
    l1, l2 = json.loads((n1 / 'losses.json').read_text()), json.loads((n2 / 'losses.json').read_text())
    assert len(l1) == 200 and l1 == l2
    assert (n1 / 'model.safetensors').read_bytes() == (n2 / 'model.safetensors').read_bytes()


def test_net_cli_equals_library(runs):
    "The non-default path is NetTrainer: same history and weights as stepping one in this process."
    X, y = moons(seed=42)
    t = NetTrainer(X, y, 3, 1.0, 42, 'tanh', 2, 'bce').step(200)
    n1 = runs['net_dirs'][0]
    assert json.loads((n1 / 'losses.json').read_text()) == t.history
    net, _ = load_net(n1 / 'model.safetensors')
    assert all(torch.equal(a, b) for a, b in zip(t.net.params(), net.params()))


def test_load_net_evaluates(runs):
    code, out, err = runs['load_net']
    n1 = runs['net_dirs'][0]
    net, _ = load_net(n1 / 'model.safetensors')
    X, y = moons(seed=42)
    L = BCEWithLogitsLoss()(net(X), y).item()
    assert code == 0 and err == ''
    assert out.startswith(f"{n1 / 'model.safetensors'}: moons, 2-3-3-1 tanh network, float32, bce loss {L:.7g}, accuracy ")


def test_bad_depth_exit_2_one_line(runs):
    assert runs['bad_depth'] == (2, '', 'backprop-train: error: depth must be an integer >= 1 and <= 4, got 5\n')
