"""Record the playground as it trains in JupyterLab, for the docs site, where no kernel runs it.

A temporary JupyterLab runs one cell, `Playground()`, in headless Chromium (the browser test's
recipe, tests/test_playground_browser.py). Play is pressed, and Chromium's screencast sends each
frame the page paints, with its time, until the widget has trained `--epochs` epochs or `--seconds`
have passed. Pillow crops the frames to the widget and assembles them into an animated WebP that
plays at the speed it was recorded; the last frame is kept as a PNG still, for the pages and readers
where motion cannot play. Writes, into nbs/images/ (or --out):
  playground.webp   the animation          playground.png   the still
  playground.json   what was recorded, and the caption the site shows

    .venv/bin/python tools/record_playground.py [--epochs 3000] [--seconds 20] [--width 1000]
"""
import argparse, base64, io, json, re, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests'))
CODE = 'from backprop_nbdev import Playground\nPlayground()'
NOTEBOOK = '_record_playground.ipynb'

def notebook(code):
    "A one-cell notebook that shows the playground."
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nb.metadata['kernelspec'] = dict(name='python3', display_name='Python 3', language='python')
    return nbformat.writes(nb)

def epoch(pg):
    "The epoch the readout under the board shows (None before the first frame)."
    m = re.search(r'epoch ([\d,]+)', pg.locator('.bp-readout').inner_text())
    return int(m[1].replace(',', '')) if m else None

def open_playground(page, base, token):
    "Open the notebook, run its cell, and return the playground once its first frame is painted."
    page.goto(f'{base}/lab/tree/{NOTEBOOK}?token={token}&reset')
    page.locator('#jp-main-statusbar').get_by_text(re.compile(r'\bIdle\b')).wait_for(timeout=60_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    pg = page.locator('.bp-playground')
    pg.wait_for(timeout=90_000)
    pg.scroll_into_view_if_needed()
    end = time.time() + 30
    while epoch(pg) is None:
        if time.time() > end: raise RuntimeError('the playground painted no frame in 30 s')
        page.wait_for_timeout(100)
    return pg

def screencast(page):
    "Start Chromium's screencast of the page: a list that fills with (time, png) as frames paint."
    cdp, frames = page.context.new_cdp_session(page), []
    def on_frame(ev):
        frames.append((ev['metadata']['timestamp'], base64.b64decode(ev['data'])))
        cdp.send('Page.screencastFrameAck', {'sessionId': ev['sessionId']})
    cdp.on('Page.screencastFrame', on_frame)
    cdp.send('Page.startScreencast', {'format': 'png', 'everyNthFrame': 1})
    return cdp, frames

def capture(page, pg, epochs, seconds):
    "Press Play and record the page until `epochs` or `seconds`: (frames, first epoch, last epoch)."
    first = epoch(pg)
    cdp, frames = screencast(page)
    page.wait_for_timeout(500)   # the still before Play
    pg.locator('.bp-play').click()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds and (epoch(pg) or 0) < epochs:
        page.wait_for_timeout(100)   # the screencast's frames arrive while Playwright waits
    pg.locator('.bp-play').click()   # Pause
    page.wait_for_timeout(500)
    cdp.send('Page.stopScreencast')
    if len(frames) < 10: raise RuntimeError(f'the screencast sent {len(frames)} frames')
    return frames, first, epoch(pg)

def check_page(page, console_errors):
    "The recording is only worth keeping if nothing went wrong on the page."
    err = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    if err.count(): raise RuntimeError(f'the cell wrote to stderr:\n{err.first.inner_text()}')
    if page.locator('.bp-error').is_visible(): raise RuntimeError('the playground shows an error')
    if console_errors: raise RuntimeError(f'console errors: {console_errors}')

def lab(tmp):
    "The browser test's temporary JupyterLab, with the course's server settings (as course.sh)."
    from test_playground_browser import jupyterlab
    config = ROOT / 'tools' / 'jupyter_server_config.py'
    try: return jupyterlab(tmp, config=config) if config.exists() else jupyterlab(tmp)
    except TypeError: return jupyterlab(tmp)   # a helper that always applies them

def record(epochs, seconds, code):
    "Run the playground in JupyterLab and record it: frames, the widget's box, epochs, versions."
    from test_playground_browser import browser_or_skip, chromium_page
    import jupyterlab as jl
    sync_playwright = browser_or_skip()
    with tempfile.TemporaryDirectory() as tmp, lab(Path(tmp)) as (base, token, nbs), \
            chromium_page(sync_playwright) as page:
        (nbs / NOTEBOOK).write_text(notebook(code), encoding='utf-8')
        console_errors = []
        page.on('console', lambda m: console_errors.append(m.text) if m.type == 'error' else None)
        pg = open_playground(page, base, token)
        box, viewport = pg.bounding_box(), page.viewport_size
        frames, first, last = capture(page, pg, epochs, seconds)
        check_page(page, console_errors)
        return dict(frames=frames, box=box, viewport=viewport, epochs=[first, last],
                    jupyterlab=jl.__version__, chromium=page.context.browser.version)

def thin(frames, fps):
    "At most `fps` frames a second: a frame closer than 1/fps to the last one kept is dropped."
    kept = [frames[0]]
    for f in frames[1:-1]:
        if f[0] - kept[-1][0] >= 1 / fps: kept.append(f)
    return kept + [frames[-1]]

def images(rec, width):
    "The frames cropped to the widget, at most `width` pixels wide, as RGB images."
    from PIL import Image
    out, b = [], rec['box']
    for _, png in rec['frames']:
        im = Image.open(io.BytesIO(png)).convert('RGB')
        k = im.width / rec['viewport']['width']   # device pixels per CSS pixel
        im = im.crop(tuple(round(v * k) for v in (b['x'], b['y'], b['x'] + b['width'],
                                                   b['y'] + b['height'])))
        if im.width > width:
            im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
        out.append(im)
    return out

def durations(frames, hold=2500):
    "Each frame's display time in ms, as long as it was on screen when recorded; the last one held."
    t = [f[0] for f in frames]
    return [max(20, round(1000 * (b - a))) for a, b in zip(t, t[1:])] + [hold]

def save(rec, out, width, meta):
    "Write the animation, the still and what was recorded into `out`."
    ims = images(rec, width)
    out.mkdir(parents=True, exist_ok=True)
    ims[0].save(out / 'playground.webp', save_all=True, append_images=ims[1:],
                duration=durations(rec['frames']), loop=0, quality=80, method=6)
    ims[-1].save(out / 'playground.png', optimize=True)
    (out / 'playground.json').write_text(json.dumps(meta, indent=1) + '\n', encoding='utf-8')

def describe(rec, code):
    "What the site says about the recording."
    (first, last), t = rec['epochs'], [f[0] for f in rec['frames']]
    secs, call = t[-1] - t[0], code.strip().splitlines()[-1]
    return dict(animation='playground.webp', still='playground.png', code=code, frames=len(t),
                seconds=round(secs, 1), epochs=[first, last], jupyterlab=rec['jupyterlab'],
                chromium=rec['chromium'],
                alt=f'The playground training XOR in JupyterLab, epoch {first} to {last}',
                caption=f'{call} in JupyterLab, recorded from the live widget: Play from '
                        f'epoch {first} to {last} in {secs:.0f} s. A page has no kernel to train '
                        'it: open this notebook in JupyterLab (bash tools/course.sh) to steer it.')

def main(argv=None):
    p = argparse.ArgumentParser(description='Record the playground in JupyterLab for the site.')
    p.add_argument('--epochs', type=int, default=3000, help='stop when the readout shows it')
    p.add_argument('--seconds', type=float, default=20, help='stop after this long at most')
    p.add_argument('--fps', type=float, default=12, help='most frames a second kept')
    p.add_argument('--width', type=int, default=1000, help='largest width of the images, in pixels')
    p.add_argument('--code', default=CODE, help='the cell that shows the playground')
    p.add_argument('--out', type=Path, default=ROOT / 'nbs' / 'images')
    a = p.parse_args(argv)
    rec = record(a.epochs, a.seconds, a.code)
    rec['frames'] = thin(rec['frames'], a.fps)
    save(rec, a.out, a.width, describe(rec, a.code))
    size = (a.out / 'playground.webp').stat().st_size
    print(f"{len(rec['frames'])} frames, epochs {rec['epochs'][0]} to {rec['epochs'][1]}: "
          f"{a.out / 'playground.webp'} ({size / 1e6:.1f} MB), playground.png, playground.json")

if __name__ == '__main__': main()
