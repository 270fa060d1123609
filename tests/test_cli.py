"`backprop-train` as a user meets it: real processes, exit codes, stderr, files on disk. Runs are started in parallel to keep this fast."
import json, os, subprocess, sys
import pytest
from backprop_nbdev import xor_data, init_params, train
from backprop_nbdev.io import load_model

CLI = [sys.executable, '-m', 'backprop_nbdev.cli']
SCRIPT = os.path.join(os.path.dirname(sys.executable), 'backprop-train')   # the console script, once installed
EPOCHS = '300'


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
    a, b = d / 'a', d / 'b'
    first = finish(dict(
        help=start('--help'),
        a=start('--epochs', EPOCHS, '--out', str(a), '--no-progress'),
        b=start('--epochs', EPOCHS, '--out', str(b), '--quiet'),
        lr_neg=start('--lr', '-1'),
        lr_text=start('--lr', 'abc'),
        diverge=start('--lr', '1e39', '--epochs', '50', '--no-progress'),
    ))
    corrupt = d / 'corrupt.safetensors'
    raw = bytearray((a / 'model.safetensors').read_bytes()); raw[-2] ^= 0x10
    corrupt.write_bytes(bytes(raw))
    second = finish(dict(
        load_a=start('--load', str(a / 'model.safetensors')),
        load_corrupt=start('--load', str(corrupt)),
    ))
    return dict(first, **second, dirs=(a, b))


def test_help_is_complete(runs):
    code, out, err = runs['help']
    assert code == 0 and err == ''
    for opt in ('--dataset', '--hidden', '--loss', '--lr', '--epochs', '--seed', '--dtype', '--out', '--load', '--no-progress', '--quiet', '--version'):
        assert opt in out, opt
    for default in ('(default: xor)', '(default: 3)', '(default: 1.0)', '(default: 5000)', '(default: 42)', '(default: float32)'):
        assert default in out, default
    assert 'exit codes' in out


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
