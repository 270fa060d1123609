"""Benchmark the live view in a real browser; prints one table. Not a test.

A real JupyterLab and Debian's Chromium (headless, through Playwright) run `Playground()` (a 100×100 grid,
10 epochs per frame, the network view on). For each column (a network and what its wires show × window size
× server settings: plain JupyterLab or the course's), quiet and with a CPU hog per core:
- painted fps: `bp-paint` events in the page (one per canvas paint of a new frame) over 10 s of Play;
- slider latency: keydown on the lr slider's handle to the first painted boundary computed with the new lr
  (every frame carries the lr it was trained with), measured in the page with performance.now();
- CPU: user+system time of every process of the stack (JupyterLab, kernel, Chromium, Playwright, this script)
  as a share of the machine, while playing and while paused (5 s);
- TF Playground's XOR updates/s, measured in the same run by the anchor's measure.py (--tf; by default
  where this workplace keeps it, beside the repository), so that the ratio holds on a machine whose speed
  moves from day to day. Neither page can paint more often than the page's animation frames (printed too: the
  display's refresh, 60 Hz in headless Chromium), so the epochs each one puts on screen per second are printed
  beside it;
- with --minutes M: M minutes of Play, and the growth of the kernel's RSS and of the page's JS heap
  (after a GC).
Usage: python benchmarks/bench_playground.py [--nets 2-3-1:weights,2-3-1:gradients,2-8-8-1:gradients]
       [--window 2] [--server course,plain] [--minutes 5] [--no-hog] [--tf PATH]"""
import argparse, ast, json, math, os, random, statistics, subprocess, sys, tempfile, time
from contextlib import contextmanager
from pathlib import Path
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests'))
import test_playground_browser as browser_test  # noqa: E402
from test_playground_browser import CHROMIUM, _api, chromium_page, jupyterlab, open_and_run_all  # noqa: E402

TF_MEASURE = ROOT.parent / 'shared' / 'anchors' / 'tf-playground' / 'measure.py'
# The one cell the benchmark runs; its last line displays the view. It needs an lr slider (.bp-lr), a
# Play/Pause button (.bp-play) and board.js's view (.bp-board).
CELL = """from backprop_nbdev import Playground
pg = Playground(grid={grid}, speed={speed}, fps={fps}, window={window}{net})
pg.board.flow.timeout, pg.board.mode = {timeout}, {mode!r}
pg"""
# The networks a column can run: keyword arguments of Playground.
NETS = {'2-3-1': '', '2-8-8-1': ", dataset='moons', hidden=8, depth=2, activation='tanh', loss='bce', lr=0.3",
        # the largest network the playground builds: 4 hidden layers of 16 units
        '2-16x4-1': ", dataset='moons', hidden=16, depth=4, activation='tanh', loss='bce', lr=0.3"}
# An expression, evaluated in the kernel, for its frame window (round trips, losses).
FLOW = 'pg.board.flow'

PROBE = ("""el => {
    const b = window.__bp = {paints: 0, counting: false, lat: [], back: [], key: null, lr: null, legs: [],
                             epochs: [], rafs: 0};
    // the page's own animation frames: the most any canvas can be painted per second here
    const raf = () => { if (b.counting) b.rafs++; requestAnimationFrame(raf); }; raf();
    el.addEventListener('bp-paint', e => {
        const d = e.detail;
        if (b.counting) { b.paints++; b.legs.push([d.transit, d.wait]); b.epochs.push(d.epoch); }
        if (b.key && d.lr !== b.key.lr) { """
         """b.lat.push(d.t - b.key.t); b.back.push(d.transit + d.wait); b.key = null; }
        b.lr = d.lr;
    });
    // capture: before the slider's own handler, so the time is the keydown's
    document.querySelector('.bp-lr .noUi-handle').addEventListener('keydown',
        () => { b.key = {t: performance.now(), lr: b.lr}; }, true);
}""")


def cpu_seconds(procs):
    "Total user+system CPU seconds of `procs` (ignoring ones that have exited)."
    total = 0.0
    for p in procs:
        try: t = p.cpu_times(); total += t.user + t.system
        except psutil.Error: pass
    return total


def machine_busy():
    "CPU seconds the whole machine has been busy (all processes, ours or not)."
    t = psutil.cpu_times()
    return (t.user + t.nice + t.system
            + getattr(t, 'irq', 0) + getattr(t, 'softirq', 0) + getattr(t, 'steal', 0))


def tree():
    "This process and all its descendants: the whole stack (server, kernel, Playwright, Chromium)."
    me = psutil.Process()
    return [me] + me.children(recursive=True)


def kernel_process():
    return next(p for p in tree() if 'ipykernel' in ' '.join(p.cmdline()))


@contextmanager
def cpu_hog():
    "One busy process per core, stopped on exit."
    hogs = [subprocess.Popen([sys.executable, '-c', 'while 1: pass']) for _ in range(psutil.cpu_count())]
    try: yield
    finally:
        for h in hogs: h.terminate()
        for h in hogs: h.wait(5)


def tf_playground():
    "TF Playground's XOR updates/s, measured now on this machine (NaN, and a note, if measure.py is missing)."
    if not TF_MEASURE.exists():
        print(f'note: {TF_MEASURE} not found (--tf): no TF Playground row', file=sys.stderr)
        return float('nan')
    r = subprocess.run([sys.executable, str(TF_MEASURE)], capture_output=True, text=True, timeout=180)
    if r.returncode: raise RuntimeError(f'{TF_MEASURE} failed: {r.stderr[-1000:]}')
    return json.loads(r.stdout.strip().splitlines()[-1])['xor']['updates_per_s']


# The server settings a column runs with. 'course' is tools/jupyter_server_config.py, as tools/course.sh and
# the browser test start JupyterLab (TCP_NODELAY on the kernel websockets; comm messages untracked, so
# JupyterLab does not flip its busy indicators and favicon around each of 60 acks a second); 'plain' is
# JupyterLab as installed.
COURSE_CONFIG = ROOT / 'tools' / 'jupyter_server_config.py'
SERVER_OPTIONS = {'plain': ''}


@contextmanager
def lab(tmp, server):
    """The browser test's jupyterlab(), with the server settings `server` (a SERVER_OPTIONS name or
    'course'): it reads the course's settings from ROOT/tools, so for another setting it is pointed at a
    stand-in ROOT."""
    if server == 'course':
        with jupyterlab(tmp) as x: yield x
        return
    root = tmp / 'root'
    (root / 'tools').mkdir(parents=True)
    for name in ('nbs', 'backprop_nbdev', 'settings.ini'): (root / name).symlink_to(ROOT / name)
    (root / 'tools' / COURSE_CONFIG.name).write_text(SERVER_OPTIONS[server])
    saved, browser_test.ROOT = browser_test.ROOT, root
    try:
        with jupyterlab(tmp) as x: yield x
    finally: browser_test.ROOT = saved


def notebook(cell):
    return json.dumps(dict(
        cells=[dict(cell_type='code', execution_count=None, metadata={}, outputs=[], source=cell)],
        metadata=dict(kernelspec=dict(display_name='python3', language='python', name='python3')),
        nbformat=4, nbformat_minor=5))


def kernel_eval(base, token, expr):
    "Evaluate `expr` in the notebook's (only) kernel through jupyter_client, while the page keeps playing."
    import jupyter_client
    kid = _api(base, token, '/api/kernels')[0]['id']
    kc = jupyter_client.BlockingKernelClient(
        connection_file=str(Path(jupyter_client.find_connection_file(kid))))
    kc.load_connection_file(); kc.start_channels()
    try:
        reply = kc.execute_interactive('', user_expressions={'r': expr}, timeout=10,
                                       output_hook=lambda m: None)
        r = reply['content']['user_expressions']['r']
        return json.loads(ast.literal_eval(r['data']['text/plain'])) if r['status'] == 'ok' else None
    finally: kc.stop_channels()


# the round trips since the last call (then forgotten) and the frames lost so far, as JSON
FLOW_STATS = ("""__import__('json').dumps((lambda f: dict(rtt=sorted(f.rtt), lost=f.lost, """
              f"""_=f.rtt.clear()))({FLOW}))""")


def role(p):
    "Which part of the stack a process is, for the CPU breakdown."
    try: cmd = ' '.join(p.cmdline())
    except psutil.Error: return 'gone'
    for key, name in [('ipykernel', 'kernel'), ('jupyterlab', 'server'), ('--type=renderer', 'renderer'),
                      ('--type=gpu', 'gpu'), ('--type=', 'chromium other'), ('chrom', 'browser'),
                      ('node', 'playwright')]:
        if key in cmd: return name
    return 'this script'


def play(page, pg, seconds):
    "Play `seconds` after 1.5 s of warm-up; returns (painted fps, CPU % of the machine, % of a core by role)."
    pg.locator('.bp-play').click()
    page.wait_for_timeout(1500)
    procs = tree()
    c0, t0, m0 = {p: cpu_seconds([p]) for p in procs}, time.perf_counter(), machine_busy()
    page.evaluate('() => { Object.assign(__bp, {paints: 0, rafs: 0, legs: [], epochs: []}); '
                  '__bp.counting = true; }')
    page.wait_for_timeout(seconds * 1000)
    n, rafs, epochs = page.evaluate('() => { __bp.counting = false; '
                                    'return [__bp.paints, __bp.rafs, __bp.epochs]; }')
    wall = time.perf_counter() - t0
    legs = page.evaluate('() => __bp.legs')
    by_role = {'legs': [statistics.median(x) for x in zip(*legs)] if legs else [float('nan')] * 2,
               'raf': rafs / wall,
               'epochs': (epochs[-1] - epochs[0]) / wall if len(epochs) > 1 else float('nan')}
    for p in procs: by_role[role(p)] = by_role.get(role(p), 0) + (cpu_seconds([p]) - c0[p]) / wall * 100
    legs, raf, ep = by_role.pop('legs'), by_role.pop('raf'), by_role.pop('epochs')
    ours = sum(by_role.values()) / psutil.cpu_count()
    others = (machine_busy() - m0) / (wall * psutil.cpu_count()) * 100 - ours   # anyone else on the machine
    return n / wall, ours, dict(by_role, legs=legs, others=others, raf=raf, epochs=ep)


def latencies(page, pg, samples):
    "Press the lr slider `samples` times while playing, right and left in turn; ms to the first new-lr paint."
    handle = pg.locator('.bp-lr .noUi-handle')
    handle.focus()
    page.evaluate('() => { __bp.lat = []; __bp.back = []; }')
    for i in range(samples):
        handle.press('ArrowRight' if i % 2 == 0 else 'ArrowLeft')
        try: page.wait_for_function(f'() => __bp.lat.length > {i} || __bp.key === null',
                                    timeout=3000, polling=20)
        except Exception: page.evaluate('() => { __bp.key = null; }')   # counted as missing below
        # so presses fall at random phases of the frame cycle
        page.wait_for_timeout(random.uniform(150, 350))
    return page.evaluate('() => [__bp.lat, __bp.back]')


def paused_cpu(page, pg, seconds=5):
    "Pause, then the stack's CPU % of the machine over `seconds`, and the frames painted meanwhile."
    pg.locator('.bp-play').click()
    page.wait_for_timeout(1000)
    procs = tree()
    c0, t0 = cpu_seconds(procs), time.perf_counter()
    page.evaluate('() => { __bp.paints = 0; __bp.counting = true; }')
    page.wait_for_timeout(seconds * 1000)
    n = page.evaluate('() => { __bp.counting = false; return __bp.paints; }')
    return (cpu_seconds(procs) - c0) / ((time.perf_counter() - t0) * psutil.cpu_count()) * 100, n


def memory(page, pg, minutes):
    "Play `minutes`; kernel RSS and page JS heap (after a GC), MB: at start and end, and samples in between."
    cdp = page.context.new_cdp_session(page)
    cdp.send('Performance.enable')
    kernel = kernel_process()
    def sample():
        cdp.send('HeapProfiler.collectGarbage')
        heap = next(m['value'] for m in cdp.send('Performance.getMetrics')['metrics']
                    if m['name'] == 'JSHeapUsedSize')
        return kernel.memory_info().rss / 2**20, heap / 2**20
    pg.locator('.bp-play').click()
    page.wait_for_timeout(3000)
    trace, t0 = [sample()], time.time()
    while time.time() - t0 < minutes * 60:
        page.wait_for_timeout(min(30, minutes * 60 - (time.time() - t0)) * 1000)
        trace.append(sample())
    pg.locator('.bp-play').click()
    return trace


def stats(lat_back, samples):
    """Median and p90 of the latencies, a press that got no paint counting as infinitely late, and the
    median of the answered ones' last leg (kernel sent the frame → painted)."""
    answered, back = lat_back
    lat = sorted(answered) + [math.inf] * (samples - len(answered))
    if not lat: return dict(n='0/0', med=math.nan, p90=math.nan, back=math.nan)   # --samples 0
    # statistics.quantiles(lat, n=10, method='inclusive')[-1], but without its inf * 0 = NaN next to a
    # missing press
    j, delta = divmod(9 * (len(lat) - 1), 10)
    p90 = lat[j] if delta == 0 else (lat[j] * (10 - delta) + lat[j + 1] * delta) / 10
    return dict(n=f'{len(answered)}/{samples}', med=statistics.median(lat), p90=p90,
                back=statistics.median(back) if back else math.nan)


def variant(net, window, server, a, tf):
    "Measure one variant, quiet and under a CPU hog; returns a dict of results."
    from playwright.sync_api import sync_playwright
    name, mode = net.split(':')
    r = dict(name=f'{name} {mode[0]} W={window} {server}', load=[os.getloadavg()[0]])
    cell = CELL.format(grid=a.grid, speed=a.speed, fps=a.fps, window=window, timeout=a.timeout,
                       net=NETS[name], mode=mode)
    with tempfile.TemporaryDirectory() as d, lab(Path(d), server) as (base, token, nbs), \
            chromium_page(sync_playwright) as page:
        errors = []
        page.on('console', lambda m: errors.append(m.text) if m.type == 'error' else None)
        (nbs / 'bench.ipynb').write_text(notebook(cell))
        pg = open_and_run_all(page, base, token, 'bench.ipynb')
        pg.locator('.bp-board').wait_for()
        pg.locator('.bp-board').evaluate(PROBE)
        r['fps'], r['cpu'], r['cpu_by'] = play(page, pg, a.seconds)
        r['lat'] = stats(latencies(page, pg, a.samples), a.samples)
        flow = kernel_eval(base, token, FLOW_STATS)
        r['cpu_paused'], r['paints_paused'] = paused_cpu(page, pg)
        r['tf'] = tf['quiet']
        if a.hog:
            with cpu_hog():
                r['tf_hog'] = tf['hog'] = tf.get('hog') or tf_playground()
                r['fps_hog'], _, r['cpu_by_hog'] = play(page, pg, a.seconds)
                r['lat_hog'] = stats(latencies(page, pg, a.samples), a.samples)
                pg.locator('.bp-play').click()
            flow_all = kernel_eval(base, token, FLOW_STATS)
        if a.minutes: r['mem'] = memory(page, pg, a.minutes)
        r['rtt'] = flow and flow['rtt']
        r['rtt_hog'] = flow and a.hog and flow_all['rtt']
        r['lost'] = (flow_all if a.hog else flow)['lost'] if flow else None
        r['errors'] = errors
    r['load'].append(os.getloadavg()[0])
    return r


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float('nan')


def table(results, a, loads):
    def col(r):
        ok = lambda c: '' if c is None else (' ok' if c else ' MISSED')
        # no verdict without TF Playground's figure (measure.py missing: NaN)
        vs_tf = lambda fps, tf: ok(None if math.isnan(tf) else fps >= 1.2 * tf)
        v = {'load average (1 min), column start / end': '{:.2f} / {:.2f}'.format(*r['load']),
             'painted fps': f"{r['fps']:.1f}{ok(r['fps'] >= 45)}",
             '  frame sent→arrived / arrived→painted, median ms':
                 '{:.0f} / {:.0f}'.format(*r['cpu_by']['legs']),
             'TF Playground XOR updates/s (same run)': f"{r['tf']:.1f}",
             'ours / TF': f"{r['fps'] / r['tf']:.2f}{vs_tf(r['fps'], r['tf'])}",
             "  the page's animation frames/s (no canvas paints more often)": f"{r['cpu_by']['raf']:.1f}",
             '  epochs/s on screen, ours / TF (one epoch per update)':
                 f"{r['cpu_by']['epochs']:.0f} / {r['tf']:.0f}",
             'slider→paint median ms': f"{r['lat']['med']:.0f}{ok(r['lat']['med'] <= 100)}",
             'slider→paint p90 ms': f"{r['lat']['p90']:.0f}{ok(r['lat']['p90'] <= 150)}",
             '  of which frame sent→painted, median ms': f"{r['lat']['back']:.0f}",
             '  presses answered': r['lat']['n'],
             'CPU % of machine, playing': f"{r['cpu']:.0f}{ok(r['cpu'] <= 60)}",
             '  other processes (not ours), same time': f"{r['cpu_by']['others']:.0f}",
             'CPU % of machine, paused': f"{r['cpu_paused']:.1f}{ok(r['cpu_paused'] <= 3)}",
             '  frames painted while paused': str(r['paints_paused']),
             'send→ack round trip median / p99 ms':
                 f"{pct(r['rtt'], .5):.0f} / {pct(r['rtt'], .99):.0f}" if r['rtt'] else 'n/a'}
        if a.hog:
            v.update({'hog: painted fps': f"{r['fps_hog']:.1f}",
                      'hog:   frame sent→arrived / arrived→painted, median ms':
                          '{:.0f} / {:.0f}'.format(*r['cpu_by_hog']['legs']),
                      'hog: TF Playground XOR updates/s': f"{r['tf_hog']:.1f}",
                      'hog: ours / TF':
                          f"{r['fps_hog'] / r['tf_hog']:.2f}{vs_tf(r['fps_hog'], r['tf_hog'])}",
                      "hog:   the page's animation frames/s": f"{r['cpu_by_hog']['raf']:.1f}",
                      'hog:   epochs/s on screen, ours / TF':
                          f"{r['cpu_by_hog']['epochs']:.0f} / {r['tf_hog']:.0f}",
                      'hog: slider→paint median ms':
                          f"{r['lat_hog']['med']:.0f}{ok(r['lat_hog']['med'] <= 100)}",
                      'hog: slider→paint p90 ms':
                          f"{r['lat_hog']['p90']:.0f}{ok(r['lat_hog']['p90'] <= 150)}",
                      'hog:   of which frame sent→painted, median': f"{r['lat_hog']['back']:.0f}",
                      'hog:   presses answered': r['lat_hog']['n'],
                      'hog: round trip median / p99 ms':
                          f"{pct(r['rtt_hog'], .5):.0f} / {pct(r['rtt_hog'], .99):.0f}"
                          if r['rtt_hog'] else 'n/a'})
        if r['lost'] is not None: v['frames lost to the ack timeout'] = str(r['lost'])
        if a.minutes:
            (k0, h0), (k1, h1) = r['mem'][0], r['mem'][-1]
            v[f'{a.minutes:g} min Play: kernel RSS growth MB'] = f'{k1 - k0:+.1f}{ok(k1 - k0 < 50)}'
            v[f'{a.minutes:g} min Play: JS heap growth MB'] = f'{h1 - h0:+.1f}{ok(h1 - h0 < 50)}'
        v['console errors'] = str(len(r['errors']))
        return v
    cols = [col(r) for r in results]
    names = list(cols[0])
    w, cw = max(map(len, names)), max(14, *(len(r['name']) + 2 for r in results),
                                      *(len(c[k]) + 2 for c in cols for k in c))
    print(f'live view benchmark: grid {a.grid}x{a.grid}, {a.speed} epochs/frame, at most {a.fps:g} fps, '
          f'{a.seconds:g} s of Play, timeout {a.timeout:g} s, {psutil.cpu_count()} cores; '
          f'load average (1/5/15 min) at start '
          f'{"/".join(f"{x:.2f}" for x in loads[0])}, at end {"/".join(f"{x:.2f}" for x in loads[1])}')
    print(f'{"":<{w}}' + ''.join(f'{r["name"]:>{cw}}' for r in results))
    for k in names: print(f'{k:<{w}}' + ''.join(f'{c.get(k, ""):>{cw}}' for c in cols))
    print('targets: fps >= 45 and >= 1.2x TF; slider median <= 100 ms, p90 <= 150 ms (also under the hog); '
          'CPU <= 60 % playing, ~0 paused; 5 min memory growth < 50 MB each')
    for r in results:
        print(f"{r['name']} CPU while playing, % of one core: "
              + ', '.join(f'{k} {v:.0f}' for k, v in sorted(((k, v) for k, v in r['cpu_by'].items()
                                                               if k not in ('legs', 'others', 'raf',
                                                                            'epochs')),
                                                              key=lambda x: -x[1])))
        if r['errors']: print(f"{r['name']} console errors: {r['errors'][:5]}")
        if 'mem' in r: print(f"{r['name']} memory every 30 s (kernel RSS MB, JS heap MB): "
                             + ' '.join(f'({k:.0f}, {h:.1f})' for k, h in r['mem']))


def main(a):
    global TF_MEASURE
    if not Path(CHROMIUM).exists(): sys.exit(f'{CHROMIUM} not found: apt-get install chromium')
    TF_MEASURE = a.tf
    loads = [os.getloadavg()]
    tf = dict(quiet=tf_playground())
    results = [variant(net, w, server, a, tf) for server in a.server for w in a.window for net in a.nets]
    loads.append(os.getloadavg())
    if a.json:
        Path(a.json).write_text(json.dumps(dict(results=results, loads=loads, args=vars(a)), default=str))
    table(results, a, loads)
    return results


def ints(s): return [int(x) for x in s.split(',')]


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--nets', type=lambda s: s.split(','),
                    default=['2-3-1:weights', '2-3-1:gradients', '2-8-8-1:gradients'],
                    help=f'network:wires per column, networks {list(NETS)}, wires weights or gradients')
    ap.add_argument('--window', type=ints, default=[2], help='frames in flight, e.g. 1,2,3 (one column each)')
    ap.add_argument('--server', type=lambda s: s.split(','), default=['course'],
                    help='server settings, one column each: '
                         'course (as tools/course.sh starts JupyterLab) or plain')
    ap.add_argument('--tf', type=Path, default=TF_MEASURE,
                    help="TF Playground's measure.py (default: %(default)s)")
    ap.add_argument('--timeout', type=float, default=1.0,
                    help='seconds before an unacknowledged frame counts as lost')
    ap.add_argument('--seconds', type=float, default=10); ap.add_argument('--samples', type=int, default=20)
    ap.add_argument('--grid', type=int, default=100); ap.add_argument('--speed', type=int, default=10)
    ap.add_argument('--fps', type=float, default=60, help='the kernel paces frames at most this often')
    ap.add_argument('--minutes', type=float, default=0, help='also play this long and report memory growth')
    ap.add_argument('--no-hog', dest='hog', action='store_false', help='skip the CPU-hog measurements')
    ap.add_argument('--json', help='also write the raw results here')
    main(ap.parse_args())
