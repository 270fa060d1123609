"""End-to-end: the playground and the stepper in a real JupyterLab (and Notebook 7), driven by
Debian's Chromium through Playwright, with no server setting: a learner's own JupyterLab.

Skips when /usr/bin/chromium or playwright (or, for Notebook 7, the notebook package) is missing,
unless BACKPROP_REQUIRE_BROWSER=1 (CI), where it fails. Screenshots go to test-artifacts/. The
helpers here are reused by benchmarks/bench_playground.py and tests/test_course_start.py."""
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
STDERR = '[data-mime-type="application/vnd.jupyter.stderr"]'


def require(why):
    "Skip for `why`, or fail when BACKPROP_REQUIRE_BROWSER=1."
    if os.environ.get('BACKPROP_REQUIRE_BROWSER') == '1':
        pytest.fail(f'browser test required but {why}')
    pytest.skip(why)


def browser_or_skip():
    "Return sync_playwright, or skip (fail when required) if the browser stack is missing."
    if not Path(CHROMIUM).exists(): require(f'{CHROMIUM} not found (apt-get install chromium)')
    try: from playwright.sync_api import sync_playwright
    except ImportError: require('playwright is not installed (pip install playwright)')
    return sync_playwright


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def api(base, token, path, method='GET'):
    "Call the Jupyter server's REST API; the JSON answer (None if empty)."
    req = urllib.request.Request(f'{base}{path}', method=method,
                                 headers={'Authorization': f'token {token}'})
    with urllib.request.urlopen(req, timeout=5) as r: body = r.read()
    return json.loads(body) if body else None


def settings_dir(tmp):
    for plugin, values in LAB_SETTINGS.items():
        f = tmp / 'lab-settings' / f'{plugin}.jupyterlab-settings'
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(values))
    return tmp / 'lab-settings'


@contextmanager
def jupyter(tmp, app='jupyterlab', config=None, root=None):
    """A Jupyter server (JupyterLab, or Notebook 7 with app='notebook') on 127.0.0.1 serving a copy
    of nbs/, autosave off, no server setting unless `config`; yields (base_url, token, nbs dir)."""
    root = root or ROOT
    nbs = tmp / 'nbs'
    shutil.copytree(root / 'nbs', nbs)
    shutil.copy(root / 'settings.ini', tmp)   # the notebooks' last cell runs nbdev_export
    port, token = free_port(), os.urandom(16).hex()
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings_dir(tmp)),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / 'workspaces'),
               PYTHONPATH=os.pathsep.join([str(root), os.environ.get('PYTHONPATH', '')])
               .rstrip(os.pathsep),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get('PATH', '')]),
               MPLBACKEND='module://matplotlib_inline.backend_inline')
    expose = 'JupyterNotebookApp' if app == 'notebook' else 'LabApp'
    cmd = [sys.executable, '-m', app, '--no-browser', '--ip=127.0.0.1', f'--port={port}',
           '--port-retries=0', f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={nbs}',
           f'--{expose}.expose_app_in_browser=True']
    if config: cmd.append(f'--config={config}')
    if hasattr(os, 'geteuid') and os.geteuid() == 0: cmd.append('--allow-root')
    log = open(tmp / 'jupyter.log', 'w')
    proc = subprocess.Popen(cmd, cwd=nbs, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f'http://127.0.0.1:{port}'
    try:
        wait_for_server(proc, base, token, tmp / 'jupyter.log')
        yield base, token, nbs
    finally:
        stop(proc, base, token)
        log.close()


def wait_for_server(proc, base, token, log):
    for _ in range(600):
        if proc.poll() is not None: raise RuntimeError(f'Jupyter exited: {log.read_text()[-2000:]}')
        try:
            api(base, token, '/api/status')
            return
        except OSError: time.sleep(0.1)
    raise RuntimeError('Jupyter did not start within 60 s')


def stop(proc, base, token):
    try:   # kernels outlive the page: delete them before stopping the server
        for k in api(base, token, '/api/kernels') or []:
            api(base, token, f'/api/kernels/{k["id"]}', 'DELETE')
    except OSError: pass
    proc.terminate()
    try: proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


jupyterlab = jupyter   # the name the benchmark and older callers use


@contextmanager
def chromium_page(sync_playwright, viewport=(1400, 1100)):
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=dict(width=viewport[0], height=viewport[1]))
            page.set_default_timeout(30_000)
            yield page
        finally: browser.close()


ALL_RAN = """() => {
    const ps = [...document.querySelectorAll(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt')];
    const failed = document.querySelector('[data-mime-type="application/vnd.jupyter.stderr"]');
    return failed || (ps.length > 0 && ps.every(p => /\\[\\d+\\]/.test(p.textContent)));
}"""


def open_and_run_all(page, base, token, notebook=NOTEBOOK, app='lab'):
    "Open the notebook, wait for its kernel, run all cells until each ran; its first playground."
    url = f'{base}/lab/tree/{notebook}?token={token}&reset' if app == 'lab' else \
        f'{base}/notebooks/{notebook}?token={token}'
    page.goto(url)
    page.wait_for_function('() => window.jupyterapp && window.jupyterapp.shell.currentWidget '
                           '&& window.jupyterapp.shell.currentWidget.sessionContext '
                           '&& window.jupyterapp.shell.currentWidget.sessionContext.session '
                           '&& window.jupyterapp.shell.currentWidget.sessionContext.session.kernel '
                           "&& window.jupyterapp.shell.currentWidget.sessionContext"
                           ".session.kernel.status === 'idle'", timeout=60_000, polling=200)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(ALL_RAN, timeout=120_000, polling=200)
    err = page.locator(STDERR)
    assert err.count() == 0, f'a cell wrote to stderr or raised:\n{err.first.inner_text()}'
    pg = page.locator('.bp-playground').first
    pg.wait_for()
    pg.scroll_into_view_if_needed()
    return pg


# Counts bp-paint events of every view, and the kernel's status changes as the page sees them.
PROBE = """() => { const b = window.__bp = {paints: [], status: []};
  document.addEventListener('bp-paint', e => b.paints.push(e.detail));
  window.jupyterapp.shell.currentWidget.sessionContext.statusChanged.connect(
    (_, s) => b.status.push([performance.now(), s])); }"""


def paints(page): return page.evaluate('__bp.paints.length')


def last_paint(page): return page.evaluate('__bp.paints[__bp.paints.length - 1]')


def readout(pg):
    "The readout under the board as a dict: epoch (int), loss (float, NaN if not finite), lr, text."
    t = pg.locator('.bp-readout').inner_text()
    num = lambda k: re.search(rf'{k} ([-+\d.,e]+|not finite)', t).group(1).replace(',', '')
    value = lambda k: float('nan') if num(k) == 'not finite' else float(num(k))
    return dict(text=t, epoch=int(num('epoch')), loss=value('loss'), lr=value('lr'))


def press(pg, cls, key, n=1):
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


def status_rate(page, seconds):
    "Kernel-status changes per second the page saw over `seconds` (of Play)."
    page.evaluate('() => { __bp.status = []; }')
    page.wait_for_timeout(seconds * 1000)
    return page.evaluate('__bp.status.length') / seconds


def readout_writes(page, pg, seconds):
    "Changes of the readout's text per second, and paints per second, over `seconds` (of Play)."
    pg.locator('.bp-readout').evaluate("""el => { window.__bpw = 0;
      new MutationObserver(ms => { window.__bpw += ms.length; })
        .observe(el, {characterData: true, childList: true, subtree: true}); }""")
    n0 = paints(page)
    page.wait_for_timeout(seconds * 1000)
    return page.evaluate('__bpw') / seconds, (paints(page) - n0) / seconds


def luminance(rgb):
    c = [v / 255 for v in rgb[:3]]
    c = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


def contrast(a, b):
    hi, lo = sorted([luminance(a), luminance(b)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# The loss plot's title: the most opaque pixel of its text, and the colour of what is behind the
# canvas.
TITLE_INK = """c => { const dpr = window.devicePixelRatio || 1;
  const d = c.getContext('2d').getImageData(0, 0, Math.round(240 * dpr), Math.round(18 * dpr)).data;
  let best = [0, 0, 0, 0];
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] > best[3]) best = [d[i], d[i + 1], d[i + 2], d[i + 3]];
  }
  let el = c, bg = 'rgb(255, 255, 255)';
  while (el) { const s = getComputedStyle(el).backgroundColor;
    if (s && s !== 'rgba(0, 0, 0, 0)' && s !== 'transparent') { bg = s; break; }
    el = el.parentElement; }
  return [best, bg.match(/\\d+/g).map(Number)]; }"""

# Pixels of the points' canvas whose colour is a ring's: black (test points) and white (training).
RINGS = """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let black = 0, white = 0;
  for (let i = 0; i < d.length; i += 4) { if (d[i + 3] < 250) continue;
    if (d[i] < 20 && d[i + 1] < 20 && d[i + 2] < 20) black++;
    if (d[i] > 245 && d[i + 1] > 245 && d[i + 2] > 245) white++; }
  return [black, white]; }"""


# Each "Error displaying widget" in the page, with the start of its cell's code.
WIDGET_ERRORS = """() => [...document.querySelectorAll('.jp-OutputArea-output')]
  .filter(o => o.textContent.includes('Error displaying widget'))
  .map(o => [o.textContent.slice(0, 80),
             o.closest('.jp-Cell').querySelector('.jp-InputArea').textContent.slice(0, 80)])"""


def title_contrast(pg):
    ink, bg = pg.locator('.bp-loss-plot').evaluate(TITLE_INK)
    assert ink[3] > 200, ink                                 # the title was drawn
    return contrast(ink, bg)


def play_for(page, pg, ms):
    pg.locator('.bp-play').click()
    page.wait_for_timeout(ms)
    pg.locator('.bp-play').click()


def check_seed_run(page, pg):
    "Play, the lr slider mid-run, gradients on the wires, Pause, Reset: as a learner does them."
    from playwright.sync_api import expect
    until(page, lambda: 'epoch' in pg.locator('.bp-readout').inner_text(), 'the first frame', 20)
    r0 = readout(pg)
    assert (r0['epoch'], r0['lr']) == (0, 1.0) and 'net 2-3-1 sigmoid' in r0['text'], r0
    pg.locator('.bp-play').click()
    page.wait_for_timeout(1500)
    n1, r1 = paints(page), readout(pg)
    assert n1 >= 15 and r1['epoch'] >= 150, (n1, r1)
    rate = status_rate(page, 4)
    print(f'kernel-status changes while playing: {rate:.2f}/s')
    assert rate <= 2, rate
    # the text changes at most ten times a second (and some: it follows the frames)
    writes, painted = readout_writes(page, pg, 2)
    print(f'readout changes while playing: {writes:.1f}/s, paints {painted:.1f}/s')
    assert 1 <= writes <= 11 and painted > 2 * writes, (writes, painted)
    press(pg, 'bp-lr', 'ArrowRight', 3)                      # 1 → 2 → 3 → 5
    until(page, lambda: last_paint(page)['lr'] == 5.0, 'a frame painted with lr 5')
    until(page, lambda: readout(pg)['lr'] == 5.0, 'the readout to show lr 5')
    net = pg.locator('.bp-network')
    assert net.get_attribute('data-mode') == 'weights'
    pg.locator('.bp-net-mode').click()
    until(page, lambda: (net.get_attribute('data-mode') == 'gradients'
                         and last_paint(page).get('mode') == 'gradients'), 'gradient frames')
    page.wait_for_timeout(500)
    pg.screenshot(path=ARTIFACTS / 'playground-gradients.png')
    # every second frame carries the network view: wait for one that does
    until(page, lambda: (last_paint(page).get('grad_max') or 0) > 0, 'a frame with gradients')
    pg.locator('.bp-play').click()
    expect(pg.locator('.bp-play')).to_have_text('Play')
    page.wait_for_timeout(400)
    n2 = paints(page)
    page.wait_for_timeout(800)
    assert paints(page) == n2, 'frames kept coming after Pause'
    assert readout(pg)['epoch'] == last_paint(page)['epoch'], 'the readout ends on the last paint'
    assert readout(pg)['loss'] < r0['loss']
    pg.locator('.bp-reset').click()
    until(page, lambda: readout(pg)['epoch'] == 0, 'epoch 0 after Reset')


def check_divergence_recovery(page, pg):
    "Step at lr 10 diverges: banner on top, loss not finite; lower the lr, Reset: it trains again."
    pg.scroll_into_view_if_needed()
    until(page, lambda: 'epoch' in pg.locator('.bp-readout').inner_text(), 'its first frame')
    pg.locator('.bp-step').click()
    banner = pg.locator('.bp-banner')
    until(page, lambda: banner.is_visible(), 'the divergence banner')
    assert 'lower the learning rate' in banner.inner_text()
    assert readout(pg)['loss'] != readout(pg)['loss']      # not finite: NaN here
    box, plot = banner.bounding_box(), pg.locator('.bp-points').bounding_box()
    hit = page.evaluate('([x, y]) => document.elementFromPoint(x, y).className',
                        [box['x'] + box['width'] / 2, box['y'] + box['height'] / 2])
    assert 'bp-banner' in hit and plot['y'] < box['y'] < plot['y'] + plot['height'], hit   # on top
    pg.screenshot(path=ARTIFACTS / 'playground-diverged.png')
    press(pg, 'bp-lr', 'ArrowLeft', 8)                       # 10 → 5 → … → 0.2 → 0.1
    until(page, lambda: readout(pg)['lr'] == 0.1, 'the readout to show lr 0.1')
    pg.locator('.bp-reset').click()
    until(page, lambda: readout(pg)['epoch'] == 0 and not banner.is_visible(), 'Reset')
    play_for(page, pg, 1500)
    r = readout(pg)
    assert r['epoch'] > 50 and r['loss'] == r['loss'], r       # training again, a finite loss
    assert not pg.locator('.bp-page-error').is_visible()


def check_points(pg_train_only, pg_with_test):
    "Test points carry a black ring, training points a white one."
    black0, white0 = pg_train_only.locator('.bp-points').evaluate(RINGS)
    black1, white1 = pg_with_test.locator('.bp-points').evaluate(RINGS)
    assert black0 == 0 and white0 > 0, (black0, white0)
    assert black1 > 0 and white1 > 0, (black1, white1)


def check_layout(page, pg, width, sidebar):
    "At `width` px (the left sidebar open or not) the controls have room and nothing spills over."
    page.set_viewport_size(dict(width=width, height=1000))
    open_now = page.evaluate("() => !window.jupyterapp.shell.leftCollapsed")
    if open_now != sidebar:
        page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
    page.wait_for_timeout(600)
    pg.scroll_into_view_if_needed()
    track = pg.locator('.bp-hidden .slider-container, .bp-hidden .noUi-target').first.bounding_box()
    out = pg.evaluate("el => { const o = el.closest('.jp-OutputArea-output') || el.parentElement;"
                      " return [o.scrollWidth, o.clientWidth]; }")
    pg.screenshot(path=ARTIFACTS / f'playground-{width}{"-sidebar" if sidebar else ""}.png')
    assert track['width'] >= 100, track
    assert out[0] <= out[1] + 1, out


def check_saved_notebook(page, base, token, nbs):
    "Saved and reopened with no kernel behind its widgets: a still picture, a hint, no error."
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    until(page, lambda: 'bp-still' in (nbs / NOTEBOOK).read_text(), 'the notebook saved')
    for k in api(base, token, '/api/kernels') or []:
        api(base, token, f'/api/kernels/{k["id"]}', 'DELETE')
    page.goto(f'{base}/lab/tree/{NOTEBOOK}?token={token}')
    still = page.locator('.bp-still img').first
    still.wait_for(timeout=60_000)
    # the widget manager gives up on its models
    page.wait_for_timeout(3000)
    still.scroll_into_view_if_needed()
    assert still.is_visible() and 'run the cell' in page.locator('.bp-still').first.inner_text()
    page.screenshot(path=ARTIFACTS / 'playground-reopened.png')
    shown = page.evaluate(WIDGET_ERRORS.replace(".filter(o =>", ".filter(o => o.offsetParent &&"))
    assert not shown, shown


def check_stepper(page):
    from playwright.sync_api import expect
    st = page.locator('.bp-stepper').first
    if st.count() == 0: return
    st.scroll_into_view_if_needed()
    for _ in range(6): st.locator('.bp-stepper-next').click()
    expect(st.locator('.bp-stepper-where')).to_contain_text('step 7 of 13: backward pass')
    expect(st.locator('.bp-stepper-eq')).to_contain_text('δz₂ = δŷ ⊙ ŷ(1 − ŷ)')
    st.locator('.bp-stepper-back').click()
    expect(st.locator('.bp-stepper-where')).to_contain_text('step 6 of 13')


def test_playground_in_jupyterlab(tmp_path):
    sync_playwright = browser_or_skip()
    ARTIFACTS.mkdir(exist_ok=True)
    t0 = time.time()
    with jupyter(tmp_path) as (base, token, nbs), chromium_page(sync_playwright) as page:
        original = (nbs / NOTEBOOK).read_bytes()
        dialogs, console_errors = [], []
        page.on('dialog', lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on('console', lambda m: console_errors.append(m.text) if m.type == 'error' else None)
        open_and_run_all(page, base, token)
        page.evaluate(PROBE)
        pgs = page.locator('.bp-playground')
        assert pgs.count() == 4, pgs.count()     # the lesson's experiments, live
        seed, circles, moons, cloud = (pgs.nth(i) for i in range(4))
        seed.scroll_into_view_if_needed()
        assert title_contrast(seed) >= 4.5
        check_seed_run(page, seed)
        check_points(seed, cloud)
        check_divergence_recovery(page, moons)
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', "
                      "{theme: 'JupyterLab Dark'})")
        until(page, lambda: page.evaluate("document.body.dataset.jpThemeLight") == 'false', 'dark')
        page.wait_for_timeout(1500)
        seed.scroll_into_view_if_needed()
        dark = title_contrast(seed)
        seed.screenshot(path=ARTIFACTS / 'playground-dark.png')
        assert dark >= 4.5, dark
        for width, sidebar in [(1024, False), (1280, True)]:
            check_layout(page, seed, width, sidebar)
        assert page.locator(STDERR).count() == 0, page.locator(STDERR).first.inner_text()
        broken = page.evaluate(WIDGET_ERRORS)
        assert not broken, broken
        assert page.locator('.jp-Dialog').count() == 0 and not dialogs, dialogs
        assert (nbs / NOTEBOOK).read_bytes() == original, 'the notebook was saved: autosave is off'
        check_saved_notebook(page, base, token, nbs)
    (ARTIFACTS / 'playground-browser.txt').write_text(f'runtime {time.time() - t0:.1f} s\n'
                                                      f'console errors: {console_errors}\n')
    assert not [e for e in console_errors if 'model not found' not in e], console_errors


STEPPER = """import torch
from backprop_nbdev.xor import xor_data
from backprop_nbdev.params import init_params
from backprop_nbdev.stepper import Stepper
Stepper(*xor_data(), init_params())"""


def one_cell(nbs, name, *cells):
    (nbs / name).write_text(json.dumps(dict(
        cells=[dict(cell_type='code', execution_count=None, metadata={}, outputs=[], source=c)
               for c in cells],
        metadata=dict(kernelspec=dict(display_name='python3', language='python', name='python3')),
        nbformat=4, nbformat_minor=5)))


@contextmanager
def lab_on(tmp, name, *cells):
    "JupyterLab on a new notebook `name` of `cells`, run in Chromium: (page, first output, nbs)."
    sync_playwright = browser_or_skip()
    ARTIFACTS.mkdir(exist_ok=True)
    with jupyter(tmp) as (base, token, nbs), chromium_page(sync_playwright) as page:
        one_cell(nbs, name, *cells)
        yield page, open_and_run_all(page, base, token, name), nbs


def test_playground_in_notebook7(tmp_path):
    "Notebook 7 with no server setting: frames flow at the page's rate, status changes stay rare."
    sync_playwright = browser_or_skip()
    try: import notebook                      # noqa: F401
    except ImportError: require('the notebook package (Notebook 7) is not installed')
    ARTIFACTS.mkdir(exist_ok=True)
    with jupyter(tmp_path, app='notebook') as (base, token, nbs), \
            chromium_page(sync_playwright) as page:
        one_cell(nbs, 'nb7.ipynb', 'from backprop_nbdev import Playground\nPlayground()', STEPPER)
        pg = open_and_run_all(page, base, token, 'nb7.ipynb', app='notebook')
        page.evaluate(PROBE)
        first = lambda: 'epoch' in pg.locator('.bp-readout').inner_text()
        until(page, first, 'the first frame', 20)
        pg.locator('.bp-play').click()
        page.wait_for_timeout(1500)
        n0 = paints(page)
        rate = status_rate(page, 4)
        fps = (paints(page) - n0) / 4
        pg.locator('.bp-play').click()
        pg.screenshot(path=ARTIFACTS / 'playground-notebook7.png')
        print(f'Notebook 7: {fps:.0f} painted frames/s, {rate:.2f} kernel-status changes/s')
        assert fps >= 20 and rate <= 2, (fps, rate)
        check_stepper(page)
