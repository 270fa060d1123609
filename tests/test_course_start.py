"""The README's first command, `bash tools/course.sh`: tools/setup.sh installs once and then returns
at once, and the course opens in a JupyterLab with no news toast, serving nbs/ from the venv, at a
URL that opens the index.

Needs the set-up .venv that tools/test.sh (or CI's tools/setup.sh) has just made; nothing here
installs anything."""
import json, os, re, shutil, subprocess, time
from pathlib import Path
import pytest
from test_playground_browser import api, free_port

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / '.venv'
# plugin id, as in the schema's package and file name
NOTIFICATION = '@jupyterlab/apputils-extension:notification'

def setup_sh(*args, cwd=ROOT, **env):
    return subprocess.run(['bash', str(cwd / 'tools' / 'setup.sh'), *args], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, **env))

@pytest.fixture(scope='module', autouse=True)
def set_up():
    r = setup_sh('--check')
    if r.returncode:
        pytest.fail(f'.venv is not set up and current ({r.stdout.strip()}): '
                    'run bash tools/setup.sh')

def test_setup_runs_pip_only_once():
    t0 = time.perf_counter()
    r = setup_sh()
    took = time.perf_counter() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == '.venv is set up (nothing to install)\n', r.stdout + r.stderr
    assert r.stderr == '', r.stderr
    # about 0.1 s; generous for a loaded machine
    assert took < 3, f'the set-up path took {took:.2f} s'
    # hash of the inputs; where .venv was made
    digest, made_in = (VENV / '.backprop-setup').read_text().splitlines()
    assert re.fullmatch('[0-9a-f]{64}', digest) and made_in == str(ROOT.resolve())

def test_setup_reinstalls_when_requirements_change(tmp_path):
    """A copy of the project's setup inputs, with a .venv made of links into this one and a stamp
    for the copy, is current; a new requirement or torch pin, or a stamp from elsewhere (a moved
    clone), calls for an install."""
    (tmp_path / 'tools').mkdir()
    shutil.copy(ROOT / 'tools' / 'setup.sh', tmp_path / 'tools')
    for f in 'settings.ini', 'setup.py', 'pyproject.toml': shutil.copy(ROOT / f, tmp_path)
    (tmp_path / 'backprop_nbdev').symlink_to(ROOT / 'backprop_nbdev')
    venv = tmp_path / '.venv'
    venv.mkdir()
    for p in VENV.iterdir():
        if p.name != '.backprop-setup': (venv / p.name).symlink_to(p)
    digest = (VENV / '.backprop-setup').read_text().splitlines()[0]
    stamp = venv / '.backprop-setup'
    stamp.write_text(f'{digest}\n{tmp_path.resolve()}\n')
    # --check only reads: nothing is installed here
    check = lambda **env: setup_sh('--check', cwd=tmp_path, **env)
    r = check()
    assert r.returncode == 0, r.stdout
    r = check(TORCH_SPEC='torch==2.1.0')
    assert r.returncode == 1 and 'torch pin changed' in r.stdout, r.stdout
    stamp.write_text(f'{digest}\n/somewhere/else\n')
    r = check()
    assert r.returncode == 1 and '.venv was made for /somewhere/else' in r.stdout, r.stdout
    stamp.write_text(f'{digest}\n{tmp_path.resolve()}\n')
    ini = tmp_path / 'settings.ini'
    ini.write_text(re.sub(r'(?m)^(requirements = .*)$', r'\1 tqdm', ini.read_text()))
    r = check()
    assert r.returncode == 1 and 'settings.ini' in r.stdout, r.stdout

def test_notification_settings_exist():
    "Settings course.sh overrides are this JupyterLab's: unknown ids or settings are ignored."
    schema = json.loads((VENV / 'share/jupyter/lab/schemas/@jupyterlab/'
                                'apputils-extension/notification.json').read_text())
    assert {c['const'] for c in schema['properties']['fetchNews']['oneOf']} >= {'false'}
    assert schema['properties']['checkForUpdates']['type'] == 'boolean'

def test_course_opens_jupyterlab(tmp_path):
    psutil = pytest.importorskip('psutil')
    port, token = free_port(), os.urandom(16).hex()
    # a fresh user-settings dir: the learner's own JupyterLab settings would override the course's
    # defaults
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(tmp_path / 'settings'),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / 'ws'))
    cmd = ['bash', str(ROOT / 'tools' / 'course.sh'), '--no-browser', '--ip=127.0.0.1',
           f'--port={port}', '--port-retries=0', f'--IdentityProvider.token={token}']
    base = f'http://127.0.0.1:{port}'
    call = lambda path: api(base, token, path)
    overrides_json = VENV / 'share/jupyter/lab/settings/overrides.json'
    before = overrides_json.stat().st_mtime_ns if overrides_json.exists() else -1
    log = tmp_path / 'course.log'
    t0 = time.perf_counter()
    with open(log, 'w') as out:
        # its own session: every process it starts can be found, and none may outlive it
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f'course.sh exited with {proc.returncode}:\n{log.read_text()[-3000:]}')
            if time.perf_counter() - t0 > 60:
                pytest.fail(f'JupyterLab did not answer within 60 s:\n{log.read_text()[-3000:]}')
            try:
                status = call('/api/status')
                break
            except OSError: time.sleep(0.05)
        took = time.perf_counter() - t0
        assert 'started' in status
        text = log.read_text()
        assert text.startswith('.venv is set up (nothing to install)\n'), text[:2000]

        # course.sh exec'd JupyterLab: the same PID, the venv's Python, serving nbs/ and opening
        # index.ipynb
        server = psutil.Process(proc.pid)
        assert Path(server.cwd()) == ROOT / 'nbs'
        assert Path(server.cmdline()[0]).parent == VENV / 'bin'
        assert ('index.ipynb' in server.cmdline()
                and ('--allow-root' in server.cmdline()) == (os.geteuid() == 0))
        # kernels and terminals see the venv
        assert server.environ()['PATH'].split(os.pathsep)[0] == str(VENV / 'bin')
        assert call('/api/contents/index.ipynb?content=0')['type'] == 'notebook'
        # the URL it prints (with --no-browser, the one to open) opens the index, not the Launcher
        urls = re.findall(r'http://127\.0\.0\.1:\d+/\S+', text)
        assert urls and all('/lab/tree/index.ipynb?token=' in u for u in urls), urls
        # no news toast, no update check: the override file, and the defaults this server hands the
        # browser
        assert overrides_json.stat().st_mtime_ns > before, 'course.sh did not write overrides.json'
        overrides = json.loads(overrides_json.read_text())
        assert overrides[NOTIFICATION] == {'fetchNews': 'false', 'checkForUpdates': False}
        props = call(f'/lab/api/settings/{NOTIFICATION}')['schema']['properties']
        defaults = (props['fetchNews']['default'], props['checkForUpdates']['default'])
        assert defaults == ('false', False)
        # about 1.5 s on an idle machine
        assert took < 30, f'JupyterLab took {took:.1f} s to answer'
        children = server.children(recursive=True)
    finally:
        proc.terminate()
        try: proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log.read_text()[-2000:]
    psutil.wait_procs(children, timeout=5)
    alive = [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, children
    # nothing left in its process group
    with pytest.raises(ProcessLookupError): os.killpg(proc.pid, 0)
