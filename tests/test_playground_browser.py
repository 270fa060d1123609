"""End-to-end: the playground and the stepper in a real JupyterLab, driven by Debian's Chromium through
Playwright.

Skips when /usr/bin/chromium or playwright is missing, unless BACKPROP_REQUIRE_BROWSER=1 (CI), where it fails.
Screenshots go to test-artifacts/. The helpers here are reused by benchmarks/bench_playground.py."""
import json, os, re, shutil, socket, subprocess, sys, time, urllib.request
from contextlib import contextmanager
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = '/usr/bin/chromium'
ARTIFACTS = ROOT / 'test-artifacts'
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync']
# User settings for the temporary JupyterLab: no autosave, every cell in the DOM, no news toasts.
LAB_SETTINGS = {
    '@jupyterlab/docmanager-extension/plugin': {'autosave': False},
    '@jupyterlab/notebook-extension/tracker': {'windowingMode': 'none'},
    '@jupyterlab/apputils-extension/notification': {'fetchNews': 'false', 'checkForUpdates': False},
}
NOTEBOOK = '19_playground.ipynb'

def browser_or_skip():
    "Return sync_playwright, or skip (fail when BACKPROP_REQUIRE_BROWSER=1) if the browser stack is missing."
    why = None
    if not Path(CHROMIUM).exists(): why = f'{CHROMIUM} not found (apt-get install chromium)'
    try: from playwright.sync_api import sync_playwright
    except ImportError: why = why or 'playwright is not installed (pip install playwright)'
    if why:
        if os.environ.get('BACKPROP_REQUIRE_BROWSER') == '1': pytest.fail(f'browser test required but {why}')
        pytest.skip(why)
    return sync_playwright

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _api(base, token, path, method='GET'):
    req = urllib.request.Request(f'{base}{path}', method=method, headers={'Authorization': f'token {token}'})
    with urllib.request.urlopen(req, timeout=5) as r: body = r.read()
    return json.loads(body) if body else None

@contextmanager
def jupyterlab(tmp):
    "A JupyterLab on 127.0.0.1 serving a copy of nbs/, autosave off; yields (base_url, token, notebook dir)."
    nbs = tmp / 'nbs'
    shutil.copytree(ROOT / 'nbs', nbs)
    shutil.copy(ROOT / 'settings.ini', tmp)   # the notebooks' last cell runs nbdev_export, which needs it
    for plugin, values in LAB_SETTINGS.items():
        f = tmp / 'lab-settings' / f'{plugin}.jupyterlab-settings'
        f.parent.mkdir(parents=True, exist_ok=True); f.write_text(json.dumps(values))
    port, token = free_port(), os.urandom(16).hex()
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(tmp / 'lab-settings'),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / 'workspaces'),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]).rstrip(os.pathsep),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get('PATH', '')]),
               MPLBACKEND='module://matplotlib_inline.backend_inline')
    cmd = [sys.executable, '-m', 'jupyterlab', '--no-browser', '--ip=127.0.0.1', f'--port={port}',
           '--port-retries=0', f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={nbs}',
           '--LabApp.expose_app_in_browser=True',
           # the course's server settings, as tools/course.sh starts it
           f'--config={ROOT / "tools" / "jupyter_server_config.py"}']
    if hasattr(os, 'geteuid') and os.geteuid() == 0: cmd.append('--allow-root')
    log = open(tmp / 'jupyterlab.log', 'w')
    proc = subprocess.Popen(cmd, cwd=nbs, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f'http://127.0.0.1:{port}'
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError(f'JupyterLab exited: {(tmp / "jupyterlab.log").read_text()[-2000:]}')
            try: _api(base, token, '/api/status'); break
            except OSError: time.sleep(0.1)
        else: raise RuntimeError('JupyterLab did not start within 60 s')
        yield base, token, nbs
    finally:
        try:   # kernels outlive the page: delete them before stopping the server
            for k in _api(base, token, '/api/kernels') or []:
                _api(base, token, f'/api/kernels/{k["id"]}', 'DELETE')
        except OSError: pass
        proc.terminate()
        try: proc.wait(15)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait()
        log.close()

@contextmanager
def chromium_page(sync_playwright, viewport=(1400, 1100)):
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=dict(width=viewport[0], height=viewport[1]))
            page.set_default_timeout(30_000)
            yield page
        finally: browser.close()

def open_and_run_all(page, base, token, notebook=NOTEBOOK):
    "Open the notebook, wait for its kernel, run all cells and wait until every cell has run."
    page.goto(f'{base}/lab/tree/{notebook}?token={token}&reset')
    page.locator('#jp-main-statusbar').get_by_text(re.compile(r'\bIdle\b')).wait_for(timeout=60_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function("""() => {
        const ps = [...document.querySelectorAll("""
        """'.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt')];
        const failed = document.querySelector('[data-mime-type="application/vnd.jupyter.stderr"]');
        return failed || (ps.length > 0 && ps.every(p => /\\[\\d+\\]/.test(p.textContent)));
    }""", timeout=90_000, polling=200)
    err = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    assert err.count() == 0, f'a cell wrote to stderr or raised:\n{err.first.inner_text()}'
    pg = page.locator('.bp-playground')
    pg.wait_for()
    pg.scroll_into_view_if_needed()
    return pg

PROBE = """el => { const b = window.__bp = {paints: []};
  el.addEventListener('bp-paint', e => b.paints.push(e.detail)); }"""

def paints(page): return page.evaluate('__bp.paints.length')

def last_paint(page): return page.evaluate('__bp.paints[__bp.paints.length - 1]')

def readout(pg):
    "The readout under the board as a dict: epoch (int), loss, lr (floats), and the text."
    t = pg.locator('.bp-readout').inner_text()
    print('readout:', repr(t))
    num = lambda k: re.search(rf'{k} ([-+\d.,e]+)', t).group(1).replace(',', '')
    return dict(text=t, epoch=int(num('epoch')), loss=float(num('loss')), lr=float(num('lr')))

def press(page, pg, cls, key, n=1):
    "Focus the slider handle of widget `cls` and press `key` `n` times."
    handle = pg.locator(f'.{cls} .noUi-handle')
    handle.focus()
    for _ in range(n): handle.press(key)

def until(page, cond, what, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v: return v
        page.wait_for_timeout(50)
    raise AssertionError(f'timed out waiting for {what}')

def test_playground_in_jupyterlab(tmp_path):
    sync_playwright = browser_or_skip()
    from playwright.sync_api import expect
    ARTIFACTS.mkdir(exist_ok=True)
    t0 = time.time()
    with jupyterlab(tmp_path) as (base, token, nbs), chromium_page(sync_playwright) as page:
        original = (nbs / NOTEBOOK).read_bytes()
        dialogs, console_errors = [], []
        page.on('dialog', lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on('console', lambda m: console_errors.append(m.text) if m.type == 'error' else None)
        pg = open_and_run_all(page, base, token)
        pg.locator('.bp-board').evaluate(PROBE)
        until(page, lambda: 'epoch' in pg.locator('.bp-readout').inner_text(), 'the first frame painted',
              timeout=20)
        r0 = readout(pg)
        assert (r0['epoch'], r0['lr']) == (0, 1.0) and 'net 2-3-1 sigmoid' in r0['text'], r0
        pg.screenshot(path=ARTIFACTS / 'playground-1-initial.png')

        # Play: boundary frames are painted, epochs advance, and the readout describes the frame on screen
        pg.locator('.bp-play').click()
        page.wait_for_timeout(1500)
        n1, r1 = paints(page), readout(pg)
        assert n1 >= 15 and r1['epoch'] >= 150, (n1, r1)
        p = last_paint(page)
        # at most a few frames between the probe and the readout
        assert r1['epoch'] >= p['epoch'] - 10 * 3, (r1, p)
        pg.screenshot(path=ARTIFACTS / 'playground-2-playing.png')

        # the lr slider mid-run: a painted boundary computed with the new lr reaches the screen
        press(page, pg, 'bp-lr', 'ArrowRight', 3)
        until(page, lambda: abs(last_paint(page)['lr'] - 10 ** 0.3) < 0.01, 'a frame painted with lr 2')
        until(page, lambda: abs(readout(pg)['lr'] - 2.0) < 0.01, 'the readout to show lr 2')

        # the network view: weights, then gradients on the wires
        net = pg.locator('.bp-network')
        assert net.get_attribute('data-mode') == 'weights'
        pg.locator('.bp-net-mode').click()
        until(page, lambda: (net.get_attribute('data-mode') == 'gradients'
                             and last_paint(page).get('mode') == 'gradients'), 'gradient frames')
        page.wait_for_timeout(500)
        pg.screenshot(path=ARTIFACTS / 'playground-3-gradients.png')
        assert last_paint(page)['grad_max'] > 0

        # Pause: no more frames
        pg.locator('.bp-play').click()
        expect(pg.locator('.bp-play')).to_have_text('Play')
        page.wait_for_timeout(400)
        n2 = paints(page)
        page.wait_for_timeout(800)
        assert paints(page) == n2, 'frames kept coming after Pause'
        assert readout(pg)['loss'] < r0['loss']

        # Reset: epoch 0 again
        pg.locator('.bp-reset').click()
        until(page, lambda: readout(pg)['epoch'] == 0, 'epoch 0 after Reset')

        # the stepper: Next walks forward, then backward, showing our numbers beside autograd's
        st = page.locator('.bp-stepper').first
        st.scroll_into_view_if_needed()
        for _ in range(6): st.locator('.bp-stepper-next').click()
        expect(st.locator('.bp-stepper-where')).to_contain_text('step 7 of 13: backward pass')
        expect(st.locator('.bp-stepper-eq')).to_contain_text('δz₂ = δŷ ⊙ ŷ(1 − ŷ)')
        st.locator('.bp-stepper-back').click()
        expect(st.locator('.bp-stepper-where')).to_contain_text('step 6 of 13')
        st.screenshot(path=ARTIFACTS / 'stepper.png')

        # nothing went wrong anywhere
        assert page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0, \
            page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').first.inner_text()
        assert 'Error displaying widget' not in page.content()
        assert page.locator('.jp-Dialog').count() == 0 and not dialogs, dialogs
        assert not pg.locator('.bp-error').is_visible()
        assert (nbs / NOTEBOOK).read_bytes() == original, 'the notebook was saved: autosave should be off'
        page.screenshot(path=ARTIFACTS / 'playground-page.png', full_page=False)
    (ARTIFACTS / 'playground-browser.txt').write_text(f'runtime {time.time() - t0:.1f} s\n'
                                                      f'console errors: {console_errors}\n')
    assert not console_errors, console_errors
