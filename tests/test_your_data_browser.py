"""The board's tool bar in a real JupyterLab: clicks add points of both classes where the mouse is,
remove the nearest, clear; Play trains on them, Reset replays, the pick tool reaches `on_pick`.

BACKPROP_SCREENSHOT=1 also writes nbs/images/your_data.png, the screenshot 23_your_data shows."""
import os
from test_playground_browser import ARTIFACTS, ROOT, STDERR, contrast, lab_on, readout, until

SETUP = """import torch
from backprop_nbdev import Playground
X = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
y = torch.tensor([0.0, 0.0, 1.0, 1.0])
picked = []
pg = Playground(X=X, y=y, hidden=3, seed=0, speed=20)
pg.board.on_pick = picked.append
pg"""

# Run `code` in the notebook's kernel and return what it printed.
KERNEL = """async (code) => {
  const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const f = k.requestExecute({code, silent: false, store_history: false});
  let out = '';
  f.onIOPub = (m) => { if (m.header.msg_type === 'stream') out += m.content.text; };
  await f.done;
  return out; }"""


# A button's text colour and its background, as RGB.
COLOURS = """b => [getComputedStyle(b).color, getComputedStyle(b).backgroundColor]
  .map(c => c.match(/[\\d.]+/g).slice(0, 3).map(Number))"""


def kernel(page, code): return page.evaluate(KERNEL, code)


def state(page):
    "The kernel's points, epoch, picks and error, as Python literals."
    out = kernel(page, 'print((pg.own[0].tolist(), pg.own[1][:, 0].tolist(), pg.trainer.epoch, '
                       'len(pg.trainer.X), picked, str(pg.error)))')
    return eval(out)   # our own kernel's print of lists and numbers


def to_data(px, py, bounds, size=300):
    x0, x1, y0, y1 = bounds
    return x0 + px / size * (x1 - x0), y1 - py / size * (y1 - y0)


def test_your_data_tool_bar(tmp_path):
    with lab_on(tmp_path, 'yours.ipynb', SETUP) as (page, pg, nbs):
        until(page, lambda: 'epoch' in pg.locator('.bp-readout').inner_text(), 'a first frame', 20)
        bounds = eval(kernel(page, 'print(list(pg.bounds))'))
        dots = pg.locator('.bp-points')
        tool = lambda name: pg.locator(f'.bp-tool-{name}').click()
        tool('add0')
        assert dots.evaluate('c => c.style.cursor') == 'crosshair'
        dots.click(position=dict(x=75, y=60))
        tool('add1')
        dots.click(position=dict(x=220, y=240))
        until(page, lambda: len(state(page)[0]) == 6, 'two points added')
        X, y, epoch, n, _, err = state(page)
        # the click lands within half a CSS pixel of where the page was clicked
        half = [(bounds[1] - bounds[0]) / 600, (bounds[3] - bounds[2]) / 600]
        for (px, py), p, cls in [((75, 60), X[4], 0.0), ((220, 240), X[5], 1.0)]:
            want = to_data(px, py, bounds)
            assert all(abs(a - b) <= h for a, b, h in zip(p, want, half)), (p, want)
        assert y[4:] == [0.0, 1.0] and n == 6, (y, n)
        tool('remove')
        dots.click(position=dict(x=76, y=61))
        until(page, lambda: len(state(page)[0]) == 5, 'the nearest point removed')
        assert state(page)[1][-1] == 1.0           # the class-0 point went, the other stayed
        assert eval(kernel(page, 'print(list(pg.bounds))')) == bounds   # the frame did not move
        pg.locator('.bp-play').click()
        until(page, lambda: readout(pg)['epoch'] >= 200, 'training on the edited points', 30)
        pg.locator('.bp-play').click()
        assert state(page)[3] == 5
        if os.environ.get('BACKPROP_SCREENSHOT') == '1':
            pg.screenshot(path=ROOT / 'nbs' / 'images' / 'your_data.png')
        steps = []
        for _ in range(2):
            pg.locator('.bp-reset').click()
            until(page, lambda: readout(pg)['epoch'] == 0, 'Reset')
            pg.locator('.bp-step').click()
            until(page, lambda: readout(pg)['epoch'] == 20, 'a step')
            steps.append(readout(pg)['loss'])
        assert steps[0] == steps[1], steps                     # the same seed, the same points
        tool('pick')
        sx, sy = (1.0 - bounds[0]) / (bounds[1] - bounds[0]) * 300, \
            (bounds[3] - 1.0) / (bounds[3] - bounds[2]) * 300
        dots.click(position=dict(x=sx + 2, y=sy - 2))            # point 1 of the board: (1, 1)
        dots.click(position=dict(x=2, y=298))                    # no point there: the batch mean
        until(page, lambda: len(state(page)[4]) == 2, 'two picks')
        assert state(page)[4] == [1, None], state(page)[4]
        tool('clear')
        until(page, lambda: len(state(page)[0]) == 0, 'cleared')
        assert 'no points to train on' in state(page)[5]
        assert 'no points to train on' in pg.locator('.bp-error').inner_text()
        pg.locator('.bp-step').click()                          # an empty board trains nothing
        page.wait_for_timeout(500)
        assert state(page)[2] == 20
        assert page.locator(STDERR).count() == 0
        pg.screenshot(path=ARTIFACTS / 'your-data.png')
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', "
                      "{theme: 'JupyterLab Dark'})")
        until(page, lambda: page.evaluate("document.body.dataset.jpThemeLight") == 'false', 'dark')
        page.wait_for_timeout(1000)
        for name in ['add0', 'remove', 'pick']:                 # legible on the dark theme too
            fg, bg = pg.locator(f'.bp-tool-{name}').evaluate(COLOURS)
            assert contrast(fg, bg) >= 4.5, (name, fg, bg)
        pg.screenshot(path=ARTIFACTS / 'your-data-dark.png')
