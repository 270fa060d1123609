"Save/load: bit-exact round trips, atomic writes, and every truncated, corrupted or mismatched file refused."
import json, os, struct
import pytest, torch
import safetensors.torch
from hypothesis import given, settings, strategies as st, HealthCheck
from backprop_nbdev import Params, init_params, xor_data, train
from backprop_nbdev.io import save_model, load_model, data_fingerprint, atomic_write


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


def test_every_truncation_fails(saved):
    good = saved.read_bytes()
    bad = saved.with_name('cut.safetensors')
    for n in range(len(good)):
        bad.write_bytes(good[:n])
        with pytest.raises(ValueError, match='is not a valid model file') as e: load_model(bad)
        assert str(bad) in str(e.value)


@pytest.mark.parametrize('mask', [0x01, 0x80, 0xFF])
def test_every_corrupted_byte_fails(saved, mask):
    "Flip bits in every byte of the file: header, metadata or weights, load_model must notice."
    good = saved.read_bytes()
    bad = saved.with_name('flip.safetensors')
    for i in range(len(good)):
        b = bytearray(good); b[i] ^= mask
        bad.write_bytes(bytes(b))
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
