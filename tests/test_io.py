"""Save/load: bit-exact round trips, atomic writes to regular files only, and every truncated,
corrupted or mismatched file refused."""
import json, os, re, stat, struct
import pytest, torch
import safetensors.torch
from hypothesis import given, settings, strategies as st, HealthCheck
from backprop_nbdev import (Params, init_params, xor_data, train, mlp, fit, SGD, BCEWithLogitsLoss,
                            from_params, Sequential, Linear, Tanh)
from backprop_nbdev.io import save_model, load_model, architecture, data_fingerprint, atomic_write
from _helpers import write_model_file


def bits(t):
    """The tensor's bytes: stricter than torch.equal, which calls -0.0 equal to 0.0 and NaN unequal
    to itself."""
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
    save_model(path, params, data=(X, y), lr=1.0, epochs=200, seed=42, dataset='xor',
               final_loss=losses[-1])
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
    save_model(path, net, data=(X, y), lr=0.5, epochs=200, seed=3, dataset='xor',
               final_loss=losses[-1])
    return path


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('sizes, act, out', [([2, 3, 1], 'sigmoid', 'sigmoid'),
                                             ([2, 5, 5, 5, 1], 'relu', None),
                                             ([3, 4, 2], 'tanh', 'sigmoid'),
                                             ([2, 7, 3, 4, 6, 2], 'sigmoid', None),
                                             ([1, 17, 2], 'tanh', None)])
def test_round_trip_bit_exact(tmp_path, dtype, sizes, act, out):
    net = mlp(sizes, act, out, 0.5, seed=5, dtype=dtype)
    X = torch.randn(6, sizes[0], generator=torch.Generator().manual_seed(0), dtype=dtype)
    back, meta = load_model(save_model(tmp_path / 'n.safetensors', net, seed=5))
    assert repr(back) == repr(net)
    assert all(b.dtype == dtype and bits(a) == bits(b) for a, b in zip(net.params(), back.params()))
    assert bits(back(X)) == bits(net(X))
    assert meta['architecture'] == dict(sizes=sizes, activation=act, loss='mse' if out else 'bce',
                                        dtype=str(dtype)[6:])
    assert meta['seed'] == 5


finite_floats = st.floats(allow_nan=False, allow_infinity=False, width=32)

@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(vals=st.lists(finite_floats, min_size=13, max_size=13), f64=st.booleans())
def test_round_trip_any_values(tmp_path, vals, f64):
    "-0.0, subnormals and the largest floats come back bit for bit."
    t = torch.tensor(vals, dtype=torch.float64 if f64 else torch.float32)
    p = Params(t[:6].reshape(2, 3), t[6:9], t[9:12].reshape(3, 1), t[12:])
    q, _ = load_model(save_model(tmp_path / 'h.safetensors', p))
    assert all(bits(a) == bits(b) for a, b in zip(p, q.params()))


def test_metadata_and_fingerprint(saved, trained):
    X, y, params, losses = trained
    net, meta = load_model(saved, expect_data=(X, y))
    assert (meta['lr'], meta['epochs'], meta['seed'], meta['dataset']) == (1.0, 200, 42, 'xor')
    assert meta['final_loss'] == losses[-1]                      # JSON keeps a float exactly
    assert meta['data'] == data_fingerprint(X, y) and meta['library_version']
    assert repr(net) == 'Sequential(Linear(2, 3), Sigmoid(), Linear(3, 1), Sigmoid())'
    with pytest.raises(ValueError, match='expect_data must be the data'):
        load_model(saved, expect_data=(X, 1 - y))
    with pytest.raises(ValueError, match='expect_data must be the data'):
        load_model(saved, expect_data=(X.double(), y.double()))


def test_same_model_same_bytes(saved, saved_net, trained, trained_net, tmp_path):
    "The metadata is canonical (one entry, sorted JSON), so saving twice gives identical files."
    X, y, params, losses = trained
    again = save_model(tmp_path / 'again.safetensors', params, data=(X, y), lr=1.0, epochs=200,
                       seed=42,
                       dataset='xor', final_loss=losses[-1])
    assert open(again, 'rb').read() == saved.read_bytes()
    X, y, net, losses = trained_net
    again = save_model(tmp_path / 'again2.safetensors', net, data=(X, y), lr=0.5, epochs=200,
                       seed=3,
                       dataset='xor', final_loss=losses[-1])
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
    "Flip bits in every byte of the file: header, metadata or weights, load_model must notice."
    saved = request.getfixturevalue(kind)
    good = saved.read_bytes()
    bad = saved.with_name('flip.safetensors')
    for i in range(len(good)):
        b = bytearray(good)
        b[i] ^= mask
        bad.write_bytes(bytes(b))
        with pytest.raises(ValueError, match='is not a valid model file'): load_model(bad)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_random_bytes_fail(tmp_path, data):
    p = tmp_path / 'junk.safetensors'
    p.write_bytes(data)
    with pytest.raises(ValueError, match='is not a valid model file'): load_model(p)


def _rewrite(src, dst, tensors=None, **changes):
    """A structurally valid safetensors file with `src`'s metadata, edited, still signed with the
    old checksum."""
    with safetensors.safe_open(src, 'pt') as f:
        info = json.loads(f.metadata()['backprop_nbdev'])
        tensors = tensors if tensors is not None else {k: f.get_tensor(k) for k in f.keys()}
    sha = info.pop('sha256')
    return write_model_file(dst, info | changes, tensors, sha)


def _net_tensors(sizes, drop=(), dtype=torch.float32):
    return {f'{k}{i}': torch.zeros((n_in, n_out) if k == 'W' else (n_out,), dtype=dtype)
            for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), 1)
            for k in 'Wb' if f'{k}{i}' not in drop}

ARCH = dict(sizes=[2, 5, 5, 5, 1], activation='relu', loss='bce', dtype='float32')

@pytest.mark.parametrize('change, message', [
    (dict(tensors=_net_tensors([2, 5, 5, 5, 1], drop=('b3',))),
     "expected exactly ['W1', 'W2', 'W3', 'W4', 'b1', 'b2', 'b3', 'b4']"),
    (dict(tensors={**_net_tensors([2, 5, 5, 5, 1]), 'W5': torch.zeros(1, 1)}),
     "expected exactly ['W1', 'W2', 'W3', 'W4', 'b1', 'b2', 'b3', 'b4']"),
    (dict(tensors=_net_tensors([2, 5, 4, 5, 1])),
     "its tensor W2 is float32 of shape (5, 4), which does not match"),
    (dict(tensors=_net_tensors([2, 5, 5, 5, 1]), architecture=ARCH | dict(sizes=[2, 5, 5, 1])),
     "expected exactly ['W1', 'W2', 'W3', 'b1', 'b2', 'b3'] for sizes [2, 5, 5, 1]"),
    (dict(tensors=_net_tensors([2, 5, 5, 5, 1], dtype=torch.float64)),
     "which does not match its architecture"),
    (dict(tensors=_net_tensors([2, 5, 5, 5, 1], dtype=torch.float16),
          architecture=ARCH | dict(dtype='float16')),
     'is not a network this version can build'),
    (dict(architecture=ARCH | dict(activation='gelu')), 'is not a network this version can build'),
    (dict(architecture=ARCH | dict(loss='ce')), 'is not a network this version can build'),
    (dict(architecture=ARCH | dict(sizes=[2, 5, 0, 5, 1])), 'is not a network this version can '
                                                            'build'),
    (dict(architecture=ARCH | dict(sizes=[2, 5.0, 5, 5, 1])), 'is not a network this version can '
                                                              'build'),
    (dict(architecture=['sizes']), 'is not a network this version can build'),
    (dict(format_version=1), 'format_version 1 is not one this version'),
    (dict(format='something.else'), 'it was not written by save_model'),
    (dict(meta=[1, 2]), "its 'meta' must be a JSON object"),
    (dict(meta={'lr': 0.25}), 'its checksum does not match'),
])
def test_mismatched_files_fail(saved_net, change, message):
    bad = _rewrite(saved_net, saved_net.with_name('mis.safetensors'), **change)
    with pytest.raises(ValueError, match=re.escape(message)) as e: load_model(bad)
    assert str(bad) in str(e.value)


def test_save_refuses_before_touching_disk(saved_net, trained_net, trained):
    "Networks load_model could not rebuild and bad values are refused before the disk is touched."
    good, net = saved_net.read_bytes(), trained_net[2]
    nan_net = mlp([2, 3, 3, 1])
    nan_net.layers[2].W[1, 1] = float('nan')
    lin = lambda i, o: Linear(torch.ones(i, o), torch.zeros(o))
    p = trained[2]
    for args, kw, exc, msg in [
        ((tuple(p),), {}, TypeError, 'net must be a Sequential'),
        ((p._replace(W1=p.W1.T),), {}, ValueError, 'must have shape'),
        ((mlp([2, 1]),), {}, ValueError, 'at least one hidden layer'),
        ((Sequential(lin(2, 3), Tanh(), lin(4, 1)),), {}, ValueError, 'net must be Linear layers'),
        ((Sequential(*mlp([2, 3, 3, 1], 'tanh').layers[:3], *mlp([2, 3, 3, 1], 'relu').layers[3:]),
          ), {},
         ValueError, 'one kind of activation'),
        ((mlp([2, 3, 1], out_act='tanh'),), {}, ValueError, 'an optional final Sigmoid'),
        ((nan_net,), {}, ValueError, 'net.W2 must hold only finite values'),
        ((net,), dict(data=(torch.zeros(3, 2), torch.zeros(4, 1))), ValueError,
         'data[1] (y) must have 3 rows'),
        ((net,), dict(architecture=1), ValueError, 'are reserved'),
        ((net,), dict(note=object()), TypeError, 'meta must be JSON-serialisable'),
        ((net,), dict(final_loss=float('inf')), ValueError, 'meta must hold only finite numbers'),
    ]:
        with pytest.raises(exc, match=re.escape(msg)): save_model(saved_net, *args, **kw)
    assert saved_net.read_bytes() == good
    assert sorted(p.name for p in saved_net.parent.iterdir()) == [saved_net.name]


def test_architecture_of_course_net(trained):
    assert architecture(from_params(trained[2])) == dict(sizes=[2, 3, 1], activation='sigmoid',
                                                         loss='mse',
                                                         dtype='float32')


def test_foreign_missing_and_odd_paths(tmp_path):
    safetensors.torch.save_file({'weight': torch.ones(3)}, tmp_path / 'other.safetensors')
    with pytest.raises(ValueError, match='it was not written by save_model'):
        load_model(tmp_path / 'other.safetensors')
    with pytest.raises(FileNotFoundError, match='no such file'):
        load_model(tmp_path / 'absent.safetensors')
    with pytest.raises(IsADirectoryError, match='got the directory'): load_model(tmp_path)
    (tmp_path / 'empty').write_bytes(b'')
    with pytest.raises(ValueError, match='is not a valid model file: its header claims 0 bytes'):
        load_model(tmp_path / 'empty')
    os.mkfifo(tmp_path / 'fifo')
    with pytest.raises(ValueError, match='which is a FIFO'): load_model(tmp_path / 'fifo')


def test_never_unpickles(tmp_path):
    """A torch.save pickle (which could carry code) is refused as not safetensors, without being
    unpickled."""
    path = tmp_path / 'pickle.pt'
    torch.save({'W1': torch.zeros(2, 3)}, path)
    with pytest.raises(ValueError, match='is not a valid model file'): load_model(path)


@pytest.mark.parametrize('make, kind', [(lambda p: os.mkfifo(p), 'a FIFO'),
                                        (lambda p: os.mkdir(p), 'a directory'),
                                        (lambda p: os.symlink('/dev/null', p), 'a symbolic link')])
def test_save_refuses_non_regular_targets(tmp_path, trained, make, kind):
    """A FIFO, directory or link (to /dev/null) is never replaced by a model: named error, target
    untouched."""
    target = tmp_path / 'target'
    make(target)
    before = os.lstat(target)
    with pytest.raises(ValueError, match=f'which is {kind}: refusing to replace it'):
        save_model(target, trained[2])
    after = os.lstat(target)
    assert (before.st_mode, before.st_ino) == (after.st_mode, after.st_ino)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['target']      # no temporary file left


def test_save_refuses_device():
    before = os.stat('/dev/null')
    with pytest.raises(ValueError, match='/dev/null, which is a device or socket: refusing to '
                                         'replace it'):
        save_model('/dev/null', init_params())
    assert os.stat('/dev/null').st_mode == before.st_mode and stat.S_ISCHR(before.st_mode)


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
        with atomic_write(saved) as tmp:
            open(tmp, 'wb').write(b'half')
            raise KeyboardInterrupt
    assert saved.read_bytes() == good and len(list(saved.parent.iterdir())) == 1


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs os.fork')
def test_hard_crash_mid_write_leaves_old_file(saved):
    """A process killed mid-write (no cleanup runs) leaves the target whole; at most a dot-temp file
    remains."""
    good = saved.read_bytes()
    pid = os.fork()
    if pid == 0:
        try:
            with atomic_write(saved) as tmp:
                with open(tmp, 'wb') as f:
                    f.write(b'partial')
                    f.flush()
                os._exit(1)   # the crash: no except, no finally
        finally: os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 1
    assert saved.read_bytes() == good
    names = [p.name for p in saved.parent.iterdir()]
    assert all(n == saved.name or n.startswith(f'.{saved.name}.') for n in names)
    load_model(saved)


def test_save_keeps_permissions(saved, trained):
    os.chmod(saved, 0o640)
    save_model(saved, trained[2])
    assert saved.stat().st_mode & 0o777 == 0o640


def test_save_path_errors(saved, trained):
    p = trained[2]
    with pytest.raises(FileNotFoundError, match='does not exist'):
        save_model(saved.parent / 'no' / 'm.safetensors', p)
    with pytest.raises(ValueError, match='ends with a separator'): save_model(str(saved) + '/', p)
    with pytest.raises(TypeError, match='path must be a file path'): save_model(3, p)


def test_header_is_plain_json(saved):
    "Anyone can read the description with nothing but json: the format hides nothing."
    raw = saved.read_bytes()
    n = struct.unpack('<Q', raw[:8])[0]
    info = json.loads(json.loads(raw[8:8 + n])['__metadata__']['backprop_nbdev'])
    assert info['meta']['dataset'] == 'xor' and info['architecture']['sizes'] == [2, 3, 1]


def test_nan_in_metadata_refused(saved):
    "Python's json reads NaN; a corrupted header holding one is still refused, with the file named."
    raw = saved.read_bytes()
    bad = saved.with_name('nan.safetensors')
    bad.write_bytes(raw.replace(b'\\"lr\\":1.0', b'\\"lr\\":NaN'))
    assert bad.read_bytes() != raw
    with pytest.raises(ValueError, match="is not a valid model file: it was not written by "
                                         "save_model"):
        load_model(bad)


def test_valid_checksum_unsupported_content_refused(saved_net, tmp_path):
    """A file signed correctly but holding float16 tensors is refused for what it holds, not for its
    checksum."""
    with safetensors.safe_open(saved_net, 'pt') as f:
        info = json.loads(f.metadata()['backprop_nbdev'])
        tensors = {k: f.get_tensor(k).half() for k in f.keys()}
    del info['sha256']
    bad = write_model_file(tmp_path / 'half.safetensors', info, tensors)
    msg = ('its tensor W1 is float16 of shape (2, 5), which does not match its architecture: '
           'expected float32')
    with pytest.raises(ValueError, match=re.escape(msg)) as e: load_model(bad)
    assert str(bad) in str(e.value)


@pytest.mark.parametrize('mode', [0o444, 0o400, 0o000])
def test_save_refuses_read_only_files(saved, trained, mode):
    "A file without write bits is kept, even for root, whom os.access lets write anything."
    good = saved.read_bytes()
    os.chmod(saved, mode)
    with pytest.raises(PermissionError, match=re.escape(f'which is read-only (mode {oct(mode)})')):
        save_model(saved, trained[2])
    os.chmod(saved, 0o644)
    assert saved.read_bytes() == good and len(list(saved.parent.iterdir())) == 1


def test_save_refuses_read_only_directory(tmp_path, trained):
    d = tmp_path / 'ro'
    d.mkdir(mode=0o555)
    with pytest.raises(PermissionError, match='whose directory is read-only'):
        save_model(d / 'm.safetensors', trained[2])
    assert list(d.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs os.fork')
def test_file_size_limit_is_an_os_error(saved, trained):
    """A write cut off by a file-size limit (as a full disk cuts it) is an OSError naming the file,
    not safetensors'."""
    import resource
    good = saved.read_bytes()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        resource.setrlimit(resource.RLIMIT_FSIZE, (600, 600))
        try: save_model(saved, mlp([2, 100, 1]))
        except BaseException as e:
            os.write(w, f"{type(e).__name__}|{isinstance(e, OSError)}|{e}".encode())
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    name, is_os, msg = os.read(r, 4096).decode().split('|', 2)
    assert is_os == 'True' and f'could not write {saved}' in msg, (name, msg)
    assert saved.read_bytes() == good and len(list(saved.parent.iterdir())) == 1


def _changed(net, what):
    l = net.layers[0]
    if what == 'half': l.W, l.b = l.W.half(), l.b.half()
    if what == 'mixed': l.b = l.b.double()
    if what == 'sparse': l.W = l.W.to_sparse()
    if what == 'meta': l.W = torch.empty(tuple(l.W.shape), device='meta')
    return net


@pytest.mark.parametrize('what, msg', [('half', 'net.W1 must be a floating-point tensor (float32 '
                                                'or float64)'),
                                       ('mixed', 'got one where its tensor b1 is '
                                                 'float64'), ('sparse', 'net.W1 must be a dense '
                                                                        'tensor'),
                                       ('meta', 'net.W1 must be a dense tensor holding numbers')])
def test_save_refuses_what_load_refuses(tmp_path, what, msg):
    "Tensors changed after mlp built the network: refused with the tensor named, nothing written."
    p = tmp_path / 'm.safetensors'
    with pytest.raises((TypeError, ValueError), match=re.escape(msg)):
        save_model(p, _changed(mlp([2, 3, 1]), what))
    assert not p.exists()


def test_save_refuses_over_the_caps(tmp_path):
    from backprop_nbdev.io import max_width, max_nesting
    n = max_width + 1
    wide = Sequential(Linear(torch.zeros(1, n), torch.zeros(n)), Tanh(), Linear(torch.zeros(n, 1),
                                                                                torch.zeros(1)))
    with pytest.raises(ValueError, match='max_width'): save_model(tmp_path / 'w.safetensors', wide)
    deep = json.loads('[' * (max_nesting + 1) + ']' * (max_nesting + 1))
    with pytest.raises(ValueError, match='max_nesting'):
        save_model(tmp_path / 'd.safetensors', mlp([2, 3, 1]), a=deep)
    assert list(tmp_path.iterdir()) == []


def test_load_checks_the_header_before_reading(saved, tmp_path):
    """A 3 GiB tensor claimed by a sparse file, deep nesting, a huge header: refused in one line,
    fast."""
    import time
    raw = saved.read_bytes()
    n = struct.unpack('<Q', raw[:8])[0]
    h = json.loads(raw[8:8 + n])
    h['W1']['shape'] = [2, (3 << 30) // 8]
    text = json.dumps(h).encode()
    big = tmp_path / 'big.safetensors'
    with open(big, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text)
        f.truncate(8 + len(text) + (3 << 30))
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=re.escape('its tensor W1 is float32 of shape (2, '
                                                   '402653184)')):
        load_model(big)
    h = json.loads(raw[8:8 + n])
    info = h['__metadata__']['backprop_nbdev']
    deeper = '"meta":{"a":' + '[' * 10**5 + ']' * 10**5 + ','
    h['__metadata__']['backprop_nbdev'] = info.replace('"meta":{', deeper)
    text = json.dumps(h).encode()
    deep = tmp_path / 'deep.safetensors'
    deep.write_bytes(struct.pack('<Q', len(text)) + text + raw[8 + n:])
    with pytest.raises(ValueError, match='nests deeper than 32'): load_model(deep)
    huge = tmp_path / 'huge.safetensors'
    huge.write_bytes(struct.pack('<Q', 1 << 40) + b'{}')
    with pytest.raises(ValueError, match='its header claims 1,099,511,627,776 bytes'):
        load_model(huge)
    assert time.perf_counter() - t0 < 5


def test_deep_metadata_without_a_checksum_is_refused(saved, tmp_path):
    "Nesting is counted before any JSON is parsed, whatever the metadata text looks like."
    raw = saved.read_bytes()
    n = struct.unpack('<Q', raw[:8])[0]
    h = json.loads(raw[8:8 + n])
    h['__metadata__'] = {'backprop_nbdev': '[' * 10**5 + ']' * 10**5}
    text = json.dumps(h).encode()
    deep = tmp_path / 'deep.safetensors'
    deep.write_bytes(struct.pack('<Q', len(text)) + text + raw[8 + n:])
    with pytest.raises(ValueError, match='nests deeper than 32'): load_model(deep)
