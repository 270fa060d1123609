"""Benchmark the live view in a real browser, beside TF Playground in the same run; prints a table.
Not a test.

A Jupyter server with no server setting, as `pip install` leaves it (plain JupyterLab, and Notebook
7 if installed; the package's server extension, A10_server, enabled), the same with that extension
disabled (`bare`: the protocol alone), or with the course's settings (`course`), and
Debian's Chromium (headless, through Playwright) run one cell, `Playground(...)`: a 100×100 grid,
10 epochs per frame, the network view on. For each column (app × network and what its wires
show), quiet and then with a CPU hog on every core:
- painted fps: `bp-paint` events in the page over 10 s of Play, beside the page's own
  requestAnimationFrame rate (no canvas can be painted more often) and their ratio;
- keydown → paint: from a keydown on the lr slider's handle (in Notebook 7, whose arrow keys never
  reach the slider, from the mouse's move that drags the handle one step) to the first painted
  boundary computed with the new lr (every frame carries the lr it was trained with), in the page's
  clock; split into legs: to the kernel (the answering frame says when the kernel heard the
  change), the kernel's answer (until that frame was sent), the frame's way to the page, and its
  wait for a paint;
- kernel-status changes the page saw per second while playing (each makes JupyterLab redraw its
  status bar and the tab's icon);
- CPU: user+system time of every process of the stack (server, kernel, Chromium, Playwright, this
  script) as a share of the machine, with the split by process, playing and paused; and per painted
  frame (TF Playground's updates slow down under the hog, so its share of the machine falls);
- the 1-minute load average at each column's start and end (the machine is shared: compare ratios
  from one run).
Under the hog each target (printed under the table) may be missed by at most 10%.
TF Playground (the anchor's dist/, XOR) runs in the same harness: its updates/s, its animation
frames and the CPU of its stack (Chromium, its static server, this script); measure.py's own figure
is printed too.
Usage: python benchmarks/bench_playground.py [--apps lab,notebook] [--server plain,course]
       [--nets 2-3-1:weights,2-8-8-1:gradients] [--seconds 10] [--samples 20] [--no-hog]"""
import argparse, json, math, os, random, statistics, subprocess, sys, tempfile, time
from contextlib import contextmanager
from pathlib import Path
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests'))
from test_playground_browser import (CHROMIUM, chromium_page, free_port, jupyter,  # noqa: E402
                                     open_and_run_all)
from backprop_nbdev.playground import LRS  # noqa: E402 (the lr slider's options, a step apart)

TF = ROOT.parent / 'shared' / 'anchors' / 'tf-playground'
TF_URL = ('index.html#dataset=xor&activation=tanh&learningRate=0.03&networkShape=4,2&seed=0.1')
CELL = """from backprop_nbdev import Playground
pg = Playground(grid={grid}, speed={speed}{net})
pg.board.mode = {mode!r}
pg"""
NETS = {'2-3-1': '',
        '2-8-8-1': ", dataset='moons', hidden=8, depth=2, activation='tanh', loss='bce', lr=0.3",
        '2-16x4-1': ", dataset='moons', hidden=16, depth=4, activation='tanh', loss='bce', lr=0.3"}

# In the page: paints, animation frames, kernel-status changes, and keydown → paint latencies.
PROBE = """() => {
  const b = window.__bp = {paints: 0, rafs: 0, status: 0, counting: false, lat: [], key: null,
                           lr: null, epochs: [], legs: []};
  const raf = () => {
    if (b.counting) b.rafs += 1;
    requestAnimationFrame(raf);
  };
  raf();
  document.addEventListener('bp-paint', (e) => {
    const d = e.detail;
    if (b.counting) {
      b.paints += 1;
      b.epochs.push(d.epoch);
    }
    if (b.key && d.lr !== b.key.lr) {
      b.lat.push(d.t - b.key.t);
      // keydown → the kernel heard it → the answering frame sent → in the page → painted
      const heard = d.heard == null ? null : d.heard - (performance.timeOrigin + b.key.t);
      b.legs.push([heard, d.heard == null ? null : d.sent - d.heard, d.transit, d.wait]);
      b.key = null;
    }
    b.lr = d.lr;
  });
  const ctx = window.jupyterapp.shell.currentWidget.sessionContext;
  ctx.statusChanged.connect(() => {
    if (b.counting) b.status += 1;
  });
  // capture: before the slider's own handler, so the time is the keydown's (or the drag's move)
  const press = () => {
    b.key = {t: performance.now(), lr: b.lr};
  };
  // on the document, so a control drawn anew is still seen; a drag counts from the move
  const onLr = (e) => e.target.closest && e.target.closest('.bp-lr');
  document.addEventListener('keydown', (e) => onLr(e) && press(), true);
  document.addEventListener('pointermove', (e) => b.drag && e.buttons && press(), true);
}"""
START = '() => Object.assign(__bp, {paints: 0, rafs: 0, status: 0, epochs: [], counting: true})'
STOP = '() => { __bp.counting = false; return [__bp.paints, __bp.rafs, __bp.status, __bp.epochs]; }'
TF_PROBE = """() => {
  const b = window.__bp = {updates: 0, rafs: 0, counting: false};
  const raf = () => {
    if (b.counting) b.rafs += 1;
    requestAnimationFrame(raf);
  };
  raf();
  new MutationObserver(() => {
    if (b.counting) b.updates += 1;
  }).observe(document.querySelector('#iter-number'),
             {childList: true, subtree: true, characterData: true});
}"""


def cpu_seconds(procs):
    "Total user+system CPU seconds of `procs` (those still running)."
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error: pass
    return total


def tree():
    "This process and all its descendants: the whole stack."
    me = psutil.Process()
    return [me] + [p for p in me.children(recursive=True) if p.pid not in HOGS]


def role(p):
    "Which part of the stack a process is, for the CPU split."
    try: cmd = ' '.join(p.cmdline())
    except psutil.Error: return 'gone'
    for key, name in [('ipykernel', 'kernel'), ('http.server', 'server'), ('jupyter', 'server'),
                      ('-m notebook', 'server'), ('--type=renderer', 'renderer'),
                      ('--type=gpu', 'gpu'),
                      ('--type=', 'chromium other'), ('chrom', 'browser'), ('node', 'playwright')]:
        if key in cmd: return name
    return 'this script'


@contextmanager
def measuring():
    "Yields a dict filled on exit: wall time, the stack's CPU % of the machine, and by role."
    procs = tree()
    c0 = {p: cpu_seconds([p]) for p in procs}
    t0 = time.perf_counter()
    out = {}
    yield out
    wall = time.perf_counter() - t0
    split = {}
    for p in procs: split[role(p)] = split.get(role(p), 0) + (cpu_seconds([p]) - c0[p]) / wall * 100
    out.update(wall=wall, cpu=sum(split.values()) / psutil.cpu_count(), split=split)


HOGS = set()   # the hogs' PIDs: load, not part of the stack


@contextmanager
def cpu_hog():
    "One busy process per core, stopped on exit."
    hogs = [subprocess.Popen([sys.executable, '-c', 'while 1: pass'])
            for _ in range(psutil.cpu_count())]
    HOGS.update(h.pid for h in hogs)
    try: yield
    finally:
        for h in hogs: h.terminate()
        for h in hogs: h.wait(5)


def play(page, pg, seconds):
    "Play `seconds` after 1.5 s of warm-up: painted fps, rAF/s, status changes/s, epochs/s, CPU."
    pg.locator('.bp-play').click()
    page.wait_for_timeout(1500)
    with measuring() as m:
        page.evaluate(START)
        page.wait_for_timeout(seconds * 1000)
        paints, rafs, status, epochs = page.evaluate(STOP)
    w = m['wall']
    return dict(fps=paints / w, raf=rafs / w, status=status / w, cpu=m['cpu'], split=m['split'],
                epochs=(epochs[-1] - epochs[0]) / w if len(epochs) > 1 else math.nan)


def latencies(page, pg, samples, drag=False):
    """Move the lr slider one step `samples` times while playing, right and left in turn: ms to
    the paint. By its arrow keys, or with `drag` by dragging its handle one step, as a mouse does
    (Notebook 7 keeps arrow keys from the slider)."""
    handle = pg.locator('.bp-lr .noUi-handle')
    step = pg.locator('.bp-lr .noUi-target').bounding_box()['width'] / (len(LRS) - 1)
    handle.focus()
    page.evaluate('() => { __bp.lat = []; __bp.legs = []; }')
    for i in range(samples):
        if drag: drag_one(page, handle, step if i % 2 == 0 else -step)
        else: handle.press('ArrowRight' if i % 2 == 0 else 'ArrowLeft')
        try: page.wait_for_function(f'() => __bp.lat.length > {i}', timeout=3000, polling=20)
        except Exception: page.evaluate('() => { __bp.key = null; }')   # missing: counted as inf
        page.wait_for_timeout(random.uniform(150, 350))   # presses at random phases of a frame
    lat = sorted(page.evaluate('() => __bp.lat'))
    legs = page.evaluate('() => __bp.legs')
    # of each: to the kernel, the kernel's answer, the frame's way to the page, its wait for a paint
    med = lambda xs: statistics.median([x for x in xs if x is not None] or [math.nan])
    way = [med(x) for x in zip(*legs)] if legs else [math.nan] * 4
    lat += [math.inf] * (samples - len(lat))
    return dict(n=f'{sum(map(math.isfinite, lat))}/{samples}', med=statistics.median(lat),
                p90=lat[min(len(lat) - 1, math.ceil(0.9 * len(lat)) - 1)], way=way)


def drag_one(page, handle, dx):
    "Drag the slider's handle `dx` pixels: down, one move (the probe's time), up."
    box = handle.bounding_box()
    x, y = box['x'] + box['width'] / 2, box['y'] + box['height'] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.evaluate('() => { __bp.drag = true; }')
    page.mouse.move(x + dx, y)
    page.evaluate('() => { __bp.drag = false; }')
    page.mouse.up()


def paused(page, pg, seconds=5):
    "Pause: the stack's CPU % of the machine over `seconds`, and frames painted meanwhile."
    pg.locator('.bp-play').click()
    page.wait_for_timeout(1000)
    with measuring() as m:
        page.evaluate(START)
        page.wait_for_timeout(seconds * 1000)
        n = page.evaluate(STOP)[0]
    return m['cpu'], n


def notebook(cell):
    return json.dumps(dict(
        cells=[dict(cell_type='code', execution_count=None, metadata={}, outputs=[], source=cell)],
        metadata=dict(kernelspec=dict(display_name='python3', language='python', name='python3')),
        nbformat=4, nbformat_minor=5))


def column(app, server, net, a):
    "One column: the playground in `app` with `server` settings, quiet then under the hog."
    from playwright.sync_api import sync_playwright
    name, mode = net.split(':')
    r = dict(name=f'{app} {server} {name} {mode[0]}', load=[os.getloadavg()[0]])
    cell = CELL.format(grid=a.grid, speed=a.speed, net=NETS[name], mode=mode)
    with tempfile.TemporaryDirectory() as d, \
            jupyter(Path(d), 'notebook' if app == 'notebook' else 'jupyterlab',
                    server_config(server, Path(d))) as \
            (base, token, nbs), chromium_page(sync_playwright) as page:
        r['extension'] = 'backprop_nbdev: kernel websockets send at once' in \
            (Path(d) / 'jupyter.log').read_text()
        errors = []
        page.on('console', lambda m: errors.append(m.text) if m.type == 'error' else None)
        (nbs / 'bench.ipynb').write_text(notebook(cell))
        kind = 'notebook' if app == 'notebook' else 'lab'
        pg = open_and_run_all(page, base, token, 'bench.ipynb', kind)
        page.evaluate(PROBE)
        r['quiet'] = play(page, pg, a.seconds)
        drag = app == 'notebook'
        r['quiet']['lat'] = latencies(page, pg, a.samples, drag)
        r['quiet']['paused'] = paused(page, pg)
        r['load'].append(os.getloadavg()[0])
        if a.hog:
            with cpu_hog():
                r['hog'] = play(page, pg, a.seconds)
                r['hog']['lat'] = latencies(page, pg, a.samples, drag)
                pg.locator('.bp-play').click()
            r['load'].append(os.getloadavg()[0])
        r['errors'] = errors
    return r


def server_config(server, d):
    "The --config file for `server`: none (plain), the course's, or one disabling our extension."
    if server == 'course': return ROOT / 'tools' / 'jupyter_server_config.py'
    if server == 'plain': return None
    (d / 'bare.py').write_text("c.ServerApp.jpserver_extensions = {'backprop_nbdev.server': False}")
    return d / 'bare.py'


def tf_column(a):
    "TF Playground (XOR) in the same harness: updates/s, rAF/s and the CPU of its stack."
    from playwright.sync_api import sync_playwright
    port = free_port()
    srv = subprocess.Popen([sys.executable, '-m', 'http.server', str(port), '--bind', '127.0.0.1',
                            '--directory', str(TF / 'dist')],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = dict(name='TF Playground xor', load=[os.getloadavg()[0]])
    try:
        time.sleep(1)
        with chromium_page(sync_playwright) as page:
            page.goto(f'http://127.0.0.1:{port}/{TF_URL}')
            page.wait_for_selector('#play-pause-button')
            page.wait_for_timeout(1000)
            page.evaluate(TF_PROBE)
            r['quiet'] = tf_play(page, a.seconds)
            r['load'].append(os.getloadavg()[0])
            if a.hog:
                with cpu_hog(): r['hog'] = tf_play(page, a.seconds)
                r['load'].append(os.getloadavg()[0])
    finally:
        srv.terminate()
        srv.wait(5)
    return r


def tf_play(page, seconds):
    page.click('#play-pause-button')
    page.wait_for_timeout(1500)
    with measuring() as m:
        page.evaluate('() => Object.assign(__bp, {updates: 0, rafs: 0, counting: true})')
        page.wait_for_timeout(seconds * 1000)
        updates, rafs = page.evaluate('() => { __bp.counting = false; '
                                      'return [__bp.updates, __bp.rafs]; }')
    page.click('#play-pause-button')
    w = m['wall']
    return dict(fps=updates / w, raf=rafs / w, cpu=m['cpu'], split=m['split'])


def tf_measure():
    "measure.py's own XOR updates/s (NaN if it is missing or fails)."
    if not (TF / 'measure.py').exists(): return math.nan
    r = subprocess.run([sys.executable, str(TF / 'measure.py')], capture_output=True, text=True,
                       timeout=180)
    try: return json.loads(r.stdout.strip().splitlines()[-1])['xor']['updates_per_s']
    except (ValueError, IndexError, KeyError): return math.nan


def rows(r, tf, part):
    "The table's rows for one column's `part` ('quiet' or 'hog')."
    x, t = r.get(part), tf.get(part)
    if x is None: return {}
    ok = lambda c: ' ok' if c else ' MISSED'
    slack = 1.1 if part == 'hog' else 1.0   # under the hog each target may be missed by 10%
    # a CPU figure of ours, judged against TF Playground's in the same part
    vs_tf = lambda f, spec: format(f(x), spec) + ('' if 'lat' not in x or not t
                                                  else ok(f(x) <= slack * f(t)))
    v = {'painted fps (or TF updates/s)': f"{x['fps']:.1f}",
         "page's animation frames/s": f"{x['raf']:.1f}",
         'painted / animation frames':
             f"{x['fps'] / x['raf']:.3f}"
             + ('' if 'lat' not in x else ok(x['fps'] * slack >= 0.95 * x['raf'])),
         'CPU % of the machine, the whole stack': vs_tf(lambda p: p['cpu'], '.0f'),
         # the same work per picture: TF Playground paints fewer frames when the hog starves it
         'CPU ms per painted frame (or TF update), the whole stack': vs_tf(per_frame, '.1f'),
         # what a learner runs: the stack less the harness's own processes (Chromium's browser
         # process still pays for reporting every websocket message to Playwright)
         'CPU % of the machine, less Playwright and this script': vs_tf(user_cpu, '.0f')}
    if 'lat' in x:
        med, p90 = x['lat']['med'], x['lat']['p90']
        v.update({'keydown → paint median ms': f"{med:.0f}{ok(med <= 50 * slack)}",
                  'keydown → paint p90 ms': f"{p90:.0f}{ok(p90 <= 100 * slack)}",
                  'presses answered': x['lat']['n'],
                  '  legs: to kernel / answer / kernel → page / wait for paint, median ms':
                      '{:.0f} / {:.0f} / {:.0f} / {:.0f}'.format(*x['lat']['way']),
                  'kernel-status changes /s': f"{x['status']:.2f}{ok(x['status'] <= 2 * slack)}",
                  'epochs/s on screen': f"{x['epochs']:.0f}"})
        if 'paused' in x: v['CPU % paused / frames painted'] = '{:.1f} / {}'.format(*x['paused'])
    return {f'{part}: {k}': s for k, s in v.items()}


def per_frame(part):
    "CPU time of the whole stack per painted frame (or TF update), ms."
    return part['cpu'] / 100 * psutil.cpu_count() * 1000 / part['fps'] if part['fps'] else math.inf


def user_cpu(part):
    "The CPU % of the machine without the harness's processes (Playwright, this script)."
    harness = sum(v for k, v in part['split'].items() if k in ('playwright', 'this script'))
    return part['cpu'] - harness / psutil.cpu_count()


def table(results, tf, tf_own, a):
    cols = [dict({'load average (1 min) at start / after quiet / after hog':
                  ' / '.join(f'{l:.2f}' for l in r['load']),
                  'our server extension loaded': {True: 'yes', False: 'no'}.get(r.get('extension'),
                                                                                 '')},
                 **rows(r, tf, 'quiet'),
                 **rows(r, tf, 'hog')) for r in [tf] + results]
    names = list(dict.fromkeys(k for c in cols for k in c))
    w = max(map(len, names))
    cw = max(16, *(len(r['name']) + 2 for r in [tf] + results))
    print(f'live view benchmark: grid {a.grid}x{a.grid}, {a.speed} epochs/frame, '
          f'{a.seconds:g} s of Play, {psutil.cpu_count()} cores; '
          f'TF measure.py XOR updates/s this run: {tf_own:.1f}')
    print(f'{"":<{w}}' + ''.join(f'{r["name"]:>{cw}}' for r in [tf] + results))
    for k in names: print(f'{k:<{w}}' + ''.join(f'{c.get(k, ""):>{cw}}' for c in cols))
    print('targets: painted >= 0.95 x animation frames; keydown → paint median <= 50 ms, '
          'p90 <= 100 ms; CPU (and CPU per painted frame) <= TF Playground\'s in the same part; '
          'status changes <= 2/s; '
          'under the hog, each target within 10%')
    for r in [tf] + results:
        for part in ('quiet', 'hog'):
            if part in r:
                split = sorted(r[part]['split'].items(), key=lambda kv: -kv[1])
                print(f"{r['name']} {part}, % of one core: "
                      + ', '.join(f'{k} {v:.0f}' for k, v in split))
        if r.get('errors'): print(f"{r['name']} console errors: {r['errors'][:5]}")


def main(a):
    if not Path(CHROMIUM).exists(): sys.exit(f'{CHROMIUM} not found: apt-get install chromium')
    apps = [x for x in a.apps if x != 'notebook' or has_notebook7()]
    tf_own = tf_measure()
    tf = tf_column(a)
    results = [column(app, server, net, a) for app in apps for server in a.server for net in a.nets]
    if a.json: Path(a.json).write_text(json.dumps(dict(tf=tf, results=results), default=str))
    table(results, tf, tf_own, a)
    return results


def has_notebook7():
    try: import notebook  # noqa: F401
    except ImportError:
        print('note: the notebook package (Notebook 7) is not installed: no Notebook 7 columns')
        return False
    return True


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    split = lambda s: s.split(',')
    ap.add_argument('--apps', type=split, default=['lab', 'notebook'], help='lab and/or notebook')
    ap.add_argument('--server', type=split, default=['plain'],
                    help='plain (no setting: as pip installs it), bare (plain with our server '
                         'extension disabled), course (tools/jupyter_server_config.py)')
    ap.add_argument('--nets', type=split, default=['2-3-1:weights', '2-8-8-1:gradients'],
                    help=f'network:wires per column, networks {list(NETS)}')
    ap.add_argument('--seconds', type=float, default=10)
    ap.add_argument('--samples', type=int, default=20)
    ap.add_argument('--grid', type=int, default=100)
    ap.add_argument('--speed', type=int, default=10)
    ap.add_argument('--no-hog', dest='hog', action='store_false', help='skip the CPU-hog parts')
    ap.add_argument('--json', help='also write the raw results here')
    main(ap.parse_args())
