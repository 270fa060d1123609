"""Benchmark the live playground in a real browser (issue 3, section 7); prints a table. Not a test.

A real JupyterLab and Debian's Chromium (headless, through Playwright), a 100×100 grid, 10 epochs per frame, 10 s of Play:
- painted fps: animation frames in which the boundary image had loaded a new frame since the previous one;
- slider-to-frame latency while playing: keydown on the lr slider to the first animation frame after the readout
  shows the new lr (the readout is drawn in the same kernel frame as the image);
- CPU: user+system time of every process involved (JupyterLab, the kernel, Chromium, Playwright), as a share of the machine.
Usage: python benchmarks/bench_playground.py [--seconds 10] [--grid 100] [--speed 10] [--fps 60] [--samples 20]"""
import argparse, json, os, statistics, sys, time
from pathlib import Path
import tempfile
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests'))
from test_playground_browser import CHROMIUM, chromium_page, jupyterlab, open_and_run_all, readout  # noqa: E402

PROBE = """() => {
    const img = document.querySelector('.bp-boundary'), ro = document.querySelector('.bp-readout');
    const b = window.__bp = {loads: 0, painted: 0, fresh: false, lat: [], key: null, oldLr: null, counting: false};
    const lr = () => (ro.textContent.match(/lr ([\\d.e+-]+)/) || [])[1];
    img.addEventListener('load', () => { b.loads++; b.fresh = true; });
    new MutationObserver(() => {
        if (b.key !== null && lr() !== b.oldLr) { const k = b.key; b.key = null; requestAnimationFrame(t => b.lat.push(t - k)); }
    }).observe(ro, {subtree: true, childList: true, characterData: true});
    document.querySelector('.bp-lr .noUi-handle').addEventListener('keydown', () => { b.key = performance.now(); b.oldLr = lr(); }, true);
    const tick = () => { if (b.fresh && b.counting) b.painted++; b.fresh = false; requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
}"""

def cpu_seconds(procs):
    "Total user+system CPU seconds of `procs` (ignoring ones that have exited)."
    total = 0.0
    for p in procs:
        try: t = p.cpu_times(); total += t.user + t.system
        except psutil.Error: pass
    return total

def role(p):
    "Which part of the stack a process is, for the CPU breakdown."
    try: cmd = ' '.join(p.cmdline())
    except psutil.Error: return 'gone'
    if 'ipykernel' in cmd: return 'kernel'
    if 'jupyterlab' in cmd: return 'jupyter server'
    if 'chrom' in cmd: return 'chromium'
    if 'playwright' in cmd or 'node' in p.name(): return 'playwright driver'
    return 'this script'

def tree():
    me = psutil.Process()
    return [me] + me.children(recursive=True)

def main(seconds=10, grid=100, speed=10, fps=60, samples=20):
    import playwright.sync_api
    if not Path(CHROMIUM).exists(): sys.exit(f'{CHROMIUM} not found: apt-get install chromium')
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        with jupyterlab(tmp) as (base, token, nbs), chromium_page(playwright.sync_api.sync_playwright) as page:
            cell = f"from backprop_nbdev.playground import Playground\nPlayground(grid={grid}, speed={speed}, fps={fps})"
            nb = dict(cells=[dict(cell_type='code', execution_count=None, metadata={}, outputs=[], source=cell)],
                      metadata=dict(kernelspec=dict(display_name='python3', language='python', name='python3')), nbformat=4, nbformat_minor=5)
            (nbs / 'bench.ipynb').write_text(json.dumps(nb))
            pg = open_and_run_all(page, base, token, 'bench.ipynb')
            page.evaluate(PROBE)
            pg.locator('.bp-play').click()
            page.wait_for_timeout(1500)                               # warm up
            procs = tree()
            roles = {p: role(p) for p in procs}
            parts0 = {r: cpu_seconds([p for p in procs if roles[p] == r]) for r in set(roles.values())}
            r0, c0, t0 = readout(pg), cpu_seconds(procs), time.perf_counter()
            page.evaluate("() => { __bp.counting = true; }")
            page.wait_for_timeout(seconds * 1000)
            page.evaluate("() => { __bp.counting = false; }")
            r1, c1, t1 = readout(pg), cpu_seconds(procs), time.perf_counter()
            parts = {r: cpu_seconds([p for p in procs if roles[p] == r]) - c for r, c in parts0.items()}
            painted = page.evaluate("() => __bp.painted")
            handle = pg.locator('.bp-lr .noUi-handle')
            for i in range(samples):                                  # still playing: latency under load
                handle.press('ArrowRight' if i % 2 == 0 else 'ArrowLeft')
                page.wait_for_timeout(350)
            lat = page.evaluate("() => __bp.lat")
            pg.locator('.bp-play').click()
            load = os.getloadavg()
    wall = t1 - t0
    cpu = (c1 - c0) / (wall * psutil.cpu_count()) * 100
    kfps, pfps = (r1['frame'] - r0['frame']) / wall, painted / wall
    med = statistics.median(lat) if lat else float('nan')
    p90 = statistics.quantiles(lat, n=10)[-1] if len(lat) >= 2 else float('nan')
    rows = [('painted frames per second', f'{pfps:.1f}', '>= 30 (aim 45)', pfps >= 30),
            ('kernel frames per second', f'{kfps:.1f}', f'paced at {fps}', None),
            ('epochs per second', f'{(r1["epoch"] - r0["epoch"]) / wall:,.0f}', f'{speed} per frame', None),
            (f'slider-to-frame median ({len(lat)}/{samples} samples)', f'{med:.0f} ms', '<= 100 ms', med <= 100),
            ('slider-to-frame p90', f'{p90:.0f} ms', '', None),
            (f'CPU, share of {psutil.cpu_count()} cores', f'{cpu:.0f} %', '<= 60 %', cpu <= 60)]
    print(f'playground benchmark: {wall:.1f} s of Play, grid {grid}x{grid}, {speed} epochs/frame, load average before end {load[0]:.2f}')
    w = max(len(r[0]) for r in rows)
    print(f'{"metric":<{w}}  {"measured":>10}  {"target":<16} verdict')
    for name, val, target, ok in rows:
        print(f'{name:<{w}}  {val:>10}  {target:<16} {"" if ok is None else ("ok" if ok else "MISSED")}')
    print('CPU by process (% of the machine): ' + ', '.join(f'{r} {c / (wall * psutil.cpu_count()) * 100:.0f}' for r, c in sorted(parts.items(), key=lambda x: -x[1])))
    return rows

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--seconds', type=float, default=10); ap.add_argument('--grid', type=int, default=100)
    ap.add_argument('--speed', type=int, default=10); ap.add_argument('--fps', type=float, default=60)
    ap.add_argument('--samples', type=int, default=20)
    a = ap.parse_args()
    main(a.seconds, a.grid, a.speed, a.fps, a.samples)
