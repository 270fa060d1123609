"Save/load: bit-exact round trips, atomic writes, and every truncated, corrupted or mismatched file refused."
import json, os, struct
import pytest, torch
import safetensors.torch
from hypothesis import given, settings, strategies as st, HealthCheck
from backprop_nbdev import Params, init_params, xor_data, train, mlp, fit, SGD, BCEWithLogitsLoss, from_params, Sequential, Linear, Tanh
from backprop_nbdev.io import save_model, load_model, save_net, load_net, net_architecture, data_fingerprint, atomic_write


def bits(t):
    "The tensor's bytes: stricter than torch.equal, which calls -0.0 equal to 0.0 and never NaN equal to itself."
    return t.contiguous().reshape(-1).view(torch.uint8).tolist()


@pytest.fixture(scope='module')
def trained():
    X, y = xor_data()
    params, losses = train(X, y, init_params(seed=42), lr=1.0, epochs=200)
    return X, y, params, losses


@pytest.fixture
def saved(tmp_path, trained):
    X, y, params, losses = trained
    path = tmp_path / 'model.safetensors'
    save_model(path, params, data=(X, y), lr=1.0, epochs=200, seed=42, dataset='xor', final_loss=losses[-1])
    return path


@pytest.fixture(scope='module')
def trained_net():
    "A depth-3 ReLU network with a logit output, trained a little on XOR with the cross-entropy."
    X, y = xor_data()
    net = mlp([2, 5, 5, 5, 1], 'relu', None, 0.5, seed=3)
    losses = fit(net, BCEWithLogitsLoss(), SGD(net.params(), 0.5), X, y, epochs=200)
    return X, y, net, losses


@pytest.fixture
def saved_net(tmp_path, trained_net):
    X, y, net, losses = trained_net
    path = tmp_path / 'net.safetensors'
    save_net(path, net, data=(X, y), loss='bce', lr=0.5, epochs=200, seed=3, dataset='xor', final_loss=losses[-1])
    return path


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('sizes', [(2, 3, 1), (5, 1, 4), (1, 17, 2)])
def test_round_trip_bit_exact(tmp_path, dtype, sizes):
    p = init_params(*sizes, seed=7, dtype=dtype)
    q, meta = load_model(save_model(tmp_path / 'm.safetensors', p, seed=7))
    for a, b in zip(p, q):
        assert b.dtype == dtype and b.shape == a.shape and bits(a) == bits(b)
    assert meta['architecture'] == dict(input_size=sizes[0], hidden_size=sizes[1], output_size=sizes[2],
                                        activation='sigmoid', loss='mse', dtype=str(dtype)[6:])
    assert meta['seed'] == 7 and meta['format_version'] == 1


finite_floats = st.floats(allow_nan=False, allow_infinity=False, width=32)

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(vals=st.lists(finite_floats, min_size=13, max_size=13), f64=st.booleans())
def test_round_trip_any_values(tmp_path, vals, f64):
    "-0.0, subnormals and the largest floats come back bit for bit."
    t = torch.tensor(vals, dtype=torch.float64 if f64 else torch.float32)
    p = Params(t[:6].reshape(2, 3), t[6:9], t[9:12].reshape(3, 1), t[12:])
    q, _ = load_model(save_model(tmp_path / 'h.safetensors', p))
    assert all(bits(a) == bits(b) for a, b in zip(p, q))


def test_metadata_and_fingerprint(saved, trained):
    X, y, params, losses = trained
    q, meta = load_model(saved, expect_data=(X, y))
    assert (meta['lr'], meta['epochs'], meta['seed'], meta['dataset']) == (1.0, 200, 42, 'xor')
    assert meta['final_loss'] == losses[-1]                      # JSON keeps a float exactly
    assert meta['data'] == data_fingerprint(X, y) and meta['library_version']
    with pytest.raises(ValueError, match='expect_data must be the data'): load_model(saved, expect_data=(X, 1 - y))
    with pytest.raises(ValueError, match='expect_data must be the data'): load_model(saved, expect_data=(X.double(), y.double()))


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('sizes, act, out', [([2, 5, 5, 5, 1], 'relu', None), ([3, 4, 2], 'tanh', 'sigmoid'), ([2, 7, 3, 4, 6, 2], 'sigmoid', None)])
def test_net_round_trip_bit_exact(tmp_path, dtype, sizes, act, out):
    net = mlp(sizes, act, out, 0.5, seed=5, dtype=dtype)
    X = torch.randn(6, sizes[0], generator=torch.Generator().manual_seed(0), dtype=dtype)
    back, meta = load_net(save_net(tmp_path / 'n.safetensors', net, seed=5))
    assert repr(back) == repr(net)
    assert all(b.dtype == dtype and bits(a) == bits(b) for a, b in zip(net.params(), back.params()))
    assert bits(back(X)) == bits(net(X))
    assert meta['architecture'] == dict(sizes=sizes, activation=act, depth=len(sizes) - 2, output='sigmoid' if out else 'logits',
                                        loss='mse' if out else 'bce', dtype=str(dtype)[6:])
    assert meta['format_version'] == 2 and meta['seed'] == 5


def test_trained_net_round_trip(saved_net, trained_net):
    X, y, net, losses = trained_net
    back, meta = load_net(saved_net, expect_data=(X, y))
    assert all(bits(a) == bits(b) for a, b in zip(net.params(), back.params()))
    assert bits(back(X)) == bits(net(X)) and meta['final_loss'] == losses[-1]
    with pytest.raises(ValueError, match='expect_data must be the data'): load_net(saved_net, expect_data=(X, 1 - y))
    with pytest.raises(ValueError, match='read it with load_net'): load_model(saved_net)


def test_load_net_reads_course_files(saved, trained):
    net, meta = load_net(saved)
    assert repr(net) == 'Sequential(Linear(2, 3), Sigmoid(), Linear(3, 1), Sigmoid())'
    assert all(bits(a) == bits(b) for a, b in zip(trained[2], net.params()))
    assert meta == load_model(saved)[1]


def test_same_net_same_bytes(saved_net, trained_net, tmp_path):
    X, y, net, losses = trained_net
    again = save_net(tmp_path / 'again.safetensors', net, data=(X, y), loss='bce', lr=0.5, epochs=200, seed=3, dataset='xor', final_loss=losses[-1])
    assert open(again, 'rb').read() == saved_net.read_bytes()


@pytest.mark.parametrize('kind', ['saved', 'saved_net'])
def test_every_truncation_fails(request, kind):
    saved = request.getfixturevalue(kind)
    good = saved.read_bytes()
    bad = saved.with_name('cut.safetensors')
    for n in range(len(good)):
        bad.write_bytes(good[:n])
        with pytest.raises(ValueError, match='is not a valid model file') as e: load_model(bad)
        assert str(bad) in str(e.value)


@pytest.mark.parametrize('kind', ['saved', 'saved_net'])
@pytest.mark.parametrize('mask', [0x01, 0x80, 0xFF])
def test_every_corrupted_byte_fails(request, kind, mask):
    "Flip bits in every byte of the file: header, metadata or weights, load_model and load_net must notice."
    saved = request.getfixturevalue(kind)
    good = saved.read_bytes()
    bad = saved.with_name('flip.safetensors')
    for i in range(len(good)):
        b = bytearray(good); b[i] ^= mask
        bad.write_bytes(bytes(b))
        with pytest.raises(ValueError, match='is not a valid model file'): load_net(bad)
        with pytest.raises(ValueError, match='is not a valid model file'): load_model(bad)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_random_bytes_fail(tmp_path, data):
    p = tmp_path / 'junk.safetensors'
    p.write_bytes(data)
    with pytest.raises(ValueError, match='is not a valid model file'): load_model(p)


def _rewrite(src, dst, tensors=None, **meta_changes):
    "A structurally valid safetensors file with `src`'s metadata, edited."
    with safetensors.safe_open(src, 'pt') as f:
        meta = json.loads(f.metadata()['backprop_nbdev'])
        tensors = tensors if tensors is not None else {k: f.get_tensor(k) for k in f.keys()}
    safetensors.torch.save_file(tensors, dst, {'backprop_nbdev': json.dumps(meta | meta_changes)})
    return dst


@pytest.mark.parametrize('change, message', [
    (dict(tensors={'W1': torch.zeros(2, 3)}), "expected exactly ['W1', 'b1', 'W2', 'b2']"),
    (dict(tensors={f: torch.zeros(s) for f, s in zip(Params._fields, [(2, 3), (3,), (4, 1), (1,)])}), 'params.W2 must have shape'),
    (dict(tensors={f: torch.zeros(s, dtype=torch.int32) for f, s in zip(Params._fields, [(2, 3), (3,), (3, 1), (1,)])}), 'must be a floating-point tensor'),
    (dict(tensors={f: torch.zeros(s) for f, s in zip(Params._fields, [(2, 5), (5,), (5, 1), (1,)])}), 'do not match its architecture metadata'),
    (dict(format_version=99), 'format_version 99 is not one this version'),
    (dict(format='something.else'), 'it was not written by save_model'),
    (dict(lr=0.5), 'its checksum does not match'),
])
def test_mismatched_files_fail(saved, change, message):
    bad = _rewrite(saved, saved.with_name('mis.safetensors'), **change)
    with pytest.raises(ValueError, match=__import__('re').escape(message)): load_model(bad)


def _net_tensors(sizes, drop=()):
    return {f'{k}{i}': torch.zeros((n_in, n_out) if k == 'W' else (n_out,)) for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), 1)
            for k in 'Wb' if f'{k}{i}' not in drop}

ARCH = dict(sizes=[2, 5, 5, 5, 1], activation='relu', depth=3, output='logits', loss='bce', dtype='float32')

@pytest.mark.parametrize('change, message', [
    (dict(tensors=_net_tensors([2, 5, 5, 5, 1], drop=('b3',))), "expected exactly ['W1', 'b1', 'W2', 'b2', 'W3', 'b3', 'W4', 'b4']"),
    (dict(tensors={**_net_tensors([2, 5, 5, 5, 1]), 'W5': torch.zeros(1, 1)}), "expected exactly ['W1', 'b1', 'W2', 'b2', 'W3', 'b3', 'W4', 'b4']"),
    (dict(tensors=_net_tensors([2, 5, 4, 5, 1])), "its tensor W2 is a torch.float32 tensor of shape (5, 4), which does not match"),
    (dict(tensors=_net_tensors([2, 5, 5, 5, 1]), architecture=ARCH | dict(sizes=[2, 5, 5, 1], depth=2)), "expected exactly ['W1', 'b1', 'W2', 'b2', 'W3', 'b3'] for sizes [2, 5, 5, 1]"),
    (dict(tensors={k: v.double() for k, v in _net_tensors([2, 5, 5, 5, 1]).items()}), "which does not match its architecture metadata"),
    (dict(tensors={k: v.int() for k, v in _net_tensors([2, 5, 5, 5, 1]).items()}, architecture=ARCH | dict(dtype='int32')), "expected a floating-point int32 tensor"),
    (dict(architecture=ARCH | dict(depth=2)), 'is not a network this version can build'),
    (dict(architecture=ARCH | dict(activation='gelu')), 'is not a network this version can build'),
    (dict(architecture=ARCH | dict(output='sigmoid')), 'is not a network this version can build'),
    (dict(architecture=ARCH | dict(sizes=[2, 5, 0, 5, 1])), 'is not a network this version can build'),
    (dict(architecture=ARCH | dict(sizes=[2, 5.0, 5, 5, 1])), 'is not a network this version can build'),
    (dict(architecture=dict(input_size=2, hidden_size=5, output_size=1)), 'is not a network this version can build'),
    (dict(format_version=1), "expected exactly ['W1', 'b1', 'W2', 'b2']"),
    (dict(lr=0.25), 'its checksum does not match'),
])
def test_mismatched_net_files_fail(saved_net, change, message):
    bad = _rewrite(saved_net, saved_net.with_name('mis.safetensors'), **change)
    for load in (load_net, load_model):
        with pytest.raises(ValueError, match=__import__('re').escape(message)) as e: load(bad)
        assert str(bad) in str(e.value)


def test_save_net_refuses(saved_net, trained_net, trained):
    "Networks load_net could not rebuild, contradictory losses and bad values are refused before the disk is touched."
    good, net = saved_net.read_bytes(), trained_net[2]
    nan_net = mlp([2, 3, 3, 1]); nan_net.layers[2].W[1, 1] = float('nan')
    lin = lambda i, o: Linear(torch.ones(i, o), torch.zeros(o))
    for args, kw, exc, msg in [
        ((trained[2],), {}, TypeError, 'net must be a Sequential'),
        ((mlp([2, 1]),), {}, ValueError, 'at least one hidden layer'),
        ((Sequential(lin(2, 3), Tanh(), lin(4, 1)),), {}, ValueError, "net's Linear layers must fit together"),
        ((Sequential(*mlp([2, 3, 3, 1], 'tanh').layers[:3], *mlp([2, 3, 3, 1], 'relu').layers[3:]),), {}, ValueError, 'one kind of activation'),
        ((net,), dict(loss='mse'), ValueError, "loss must be 'bce' (or None)"),
        ((net,), dict(loss=['bce']), ValueError, "loss must be 'bce' (or None)"),
        ((nan_net,), {}, ValueError, 'net.W2 must hold only finite values'),
        ((net,), dict(data=(torch.zeros(3, 2), torch.zeros(4, 1))), ValueError, 'data[1] (y) must have one row per row'),
        ((net,), dict(format_version=1), ValueError, 'are reserved'),
        ((net,), dict(note=object()), TypeError, 'note must be JSON-serialisable'),
    ]:
        with pytest.raises(exc, match=__import__('re').escape(msg)): save_net(saved_net, *args, **kw)
    assert saved_net.read_bytes() == good
    assert sorted(p.name for p in saved_net.parent.iterdir()) == [saved_net.name]


def test_net_architecture_of_course_net(trained):
    assert net_architecture(from_params(trained[2])) == dict(sizes=[2, 3, 1], activation='sigmoid', depth=1, output='sigmoid', loss='mse', dtype='float32')


def test_foreign_and_missing_files(tmp_path):
    safetensors.torch.save_file({'weight': torch.ones(3)}, tmp_path / 'other.safetensors')
    with pytest.raises(ValueError, match='it was not written by save_model'): load_model(tmp_path / 'other.safetensors')
    with pytest.raises(FileNotFoundError, match='no such file'): load_model(tmp_path / 'absent.safetensors')
    with pytest.raises(FileNotFoundError): load_model(tmp_path)     # a directory is not a model file
    (tmp_path / 'empty').write_bytes(b'')
    with pytest.raises(ValueError, match='0 bytes long'): load_model(tmp_path / 'empty')


def test_never_unpickles(tmp_path):
    "A torch.save pickle (which could carry code) is refused as not-a-safetensors file, without being unpickled."
    path = tmp_path / 'pickle.pt'
    torch.save({'W1': torch.zeros(2, 3)}, path)
    with pytest.raises(ValueError, match='is not a valid model file'): load_model(path)


def test_failed_save_leaves_old_file(saved, trained, monkeypatch):
    good = saved.read_bytes()
    def boom(fd): raise OSError('disk full')
    monkeypatch.setattr(os, 'fsync', boom)
    with pytest.raises(OSError, match='disk full'): save_model(saved, trained[2], lr=99.0)
    monkeypatch.undo()
    assert saved.read_bytes() == good
    assert sorted(p.name for p in saved.parent.iterdir()) == [saved.name]   # no temporary file left


def test_interrupt_leaves_old_file(saved):
    good = saved.read_bytes()
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(saved) as f:
            f.write(b'half'); raise KeyboardInterrupt
    assert saved.read_bytes() == good and len(list(saved.parent.iterdir())) == 1


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs os.fork')
def test_hard_crash_mid_write_leaves_old_file(saved):
    "A process killed in the middle of a write (no cleanup runs) leaves the target whole; at most a dot-temp file remains."
    good = saved.read_bytes()
    pid = os.fork()
    if pid == 0:
        try:
            with atomic_write(saved) as f:
                f.write(b'partial'); f.flush(); os._exit(1)   # the crash: no except, no finally
        finally: os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 1
    assert saved.read_bytes() == good
    assert all(p.name == saved.name or p.name.startswith(f'.{saved.name}.') for p in saved.parent.iterdir())
    load_model(saved)


def test_save_keeps_permissions(saved, trained):
    os.chmod(saved, 0o640)
    save_model(saved, trained[2])
    assert saved.stat().st_mode & 0o777 == 0o640


def test_save_errors_do_not_touch_disk(saved, trained):
    good = saved.read_bytes()
    p = trained[2]
    for kw, exc in [(dict(params=tuple(p)), TypeError), (dict(params=p._replace(W1=p.W1.T)), ValueError),
                    (dict(params=p, data=(torch.zeros(3, 2), torch.zeros(4, 1))), ValueError),
                    (dict(params=p, final_loss=float('inf')), ValueError), (dict(params=p, tag={1, 2}), TypeError),
                    (dict(params=p, activation=3), TypeError), (dict(params=p, format='x'), ValueError)]:
        with pytest.raises(exc): save_model(saved, **kw)
    assert saved.read_bytes() == good
    with pytest.raises(FileNotFoundError, match='does not exist'): save_model(saved.parent / 'no' / 'm.safetensors', p)
    with pytest.raises(IsADirectoryError): save_model(saved.parent, p)


def test_header_is_plain_json(saved):
    "Anyone can read the description with nothing but json: the format hides nothing."
    raw = saved.read_bytes()
    n = struct.unpack('<Q', raw[:8])[0]
    meta = json.loads(json.loads(raw[8:8 + n])['__metadata__']['backprop_nbdev'])
    assert meta['dataset'] == 'xor' and meta['architecture']['hidden_size'] == 3


def test_same_model_same_bytes(saved, trained, tmp_path):
    "The header is canonical (one metadata key, sorted JSON), so saving twice gives identical files."
    X, y, params, losses = trained
    again = save_model(tmp_path / 'again.safetensors', params, data=(X, y), lr=1.0, epochs=200, seed=42, dataset='xor', final_loss=losses[-1])
    assert open(again, 'rb').read() == saved.read_bytes()


def test_nan_in_metadata_refused(saved):
    "Python's json reads NaN; a corrupted header holding one is still refused, with the file named."
    raw = saved.read_bytes()
    bad = saved.with_name('nan.safetensors')
    bad.write_bytes(raw.replace(b'\\"lr\\":1.0', b'\\"lr\\":NaN'))
    with pytest.raises(ValueError, match='is not a valid model file: its metadata is not valid JSON'): load_model(bad)
