"""End-to-end: `Playground(backward=fn)` in a real JupyterLab. A planted mistake lights the first
layer's wires in the 'gap' mode and the readout names the wrong quantity; Play trains; a raising fn
shows its message, and after the fix Reset and Play work. Skips as test_playground_browser does."""
from test_playground_browser import ARTIFACTS, STDERR, lab_on, readout, until, PROBE, last_paint

WRONG = '''from backprop_nbdev import Playground, Grads
from backprop_nbdev.backward import backward

def no_hidden_sigmoid_grad(X, y, params, cache):
    W1, b1, W2, b2 = params
    z1, h, z2, y_pred = cache
    dz2 = 2 * (y_pred - y) / y.numel() * y_pred * (1 - y_pred)
    dz1 = dz2 @ W2.T
    return Grads(X.T @ dz1, dz1.sum(0), h.T @ dz2, dz2.sum(0))

pg = Playground(dataset='xor_cloud', backward=no_hidden_sigmoid_grad)
pg'''

# Pixels of the network canvas in the gap legend's green, and in its three colours above the bound.
COLOURS = """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const near = (i, [r, g, b]) => Math.abs(d[i] - r) + Math.abs(d[i + 1] - g)
    + Math.abs(d[i + 2] - b) < 60;
  const above = [[230, 184, 0], [255, 127, 14], [214, 39, 40]];
  let green = 0, wrong = 0;
  for (let i = 0; i < d.length; i += 4) { if (d[i + 3] < 100) continue;
    if (near(i, [44, 160, 44])) green++;
    if (above.some(c => near(i, c))) wrong++; }
  return [green, wrong]; }"""

RUN = """async (code) => {
  const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const f = k.requestExecute({code}); await f.done; }"""


def epoch(pg): return readout(pg)['epoch']


def test_your_backward_in_jupyterlab(tmp_path):
    with lab_on(tmp_path, 'yours.ipynb', WRONG) as (page, pg, nbs):
        page.evaluate(PROBE)
        until(page, lambda: 'dW1 (δW₁) is wrong' in pg.locator('.bp-readout').inner_text(),
              'the diagnosis in the readout', 30)
        net = pg.locator('.bp-network')
        assert net.get_attribute('data-mode') == 'gap'
        pg.locator('.bp-play').click()
        page.wait_for_timeout(1500)
        until(page, lambda: (last_paint(page) or {}).get('mode') == 'gap', 'a frame in gap mode')
        pg.locator('.bp-play').click()
        assert epoch(pg) >= 100, readout(pg)
        pg.screenshot(path=ARTIFACTS / 'your-backward-gap.png')
        green, wrong = net.evaluate(COLOURS)
        assert green > 500 and wrong > 500, (green, wrong)    # layer 2 right, layer 1 wrong
        page.evaluate(RUN, 'def broken(X, y, params, cache):\n    return 1 / 0\n'
                           'pg.backward = broken')
        err = pg.locator('.bp-error')
        until(page, lambda: 'broken raised ZeroDivisionError at line 2' in err.inner_text(),
              'the message of a raising fn')
        pg.locator('.bp-play').click()
        page.wait_for_timeout(500)
        assert pg.locator('.bp-play').inner_text().strip() == 'Play'   # paused, not playing
        page.evaluate(RUN, 'pg.backward = backward')
        until(page, lambda: not err.is_visible(), 'the message gone after the fix')
        pg.locator('.bp-reset').click()
        until(page, lambda: epoch(pg) == 0, 'epoch 0 after Reset')
        pg.locator('.bp-play').click()
        until(page, lambda: epoch(pg) >= 100, 'training with the fixed fn')
        pg.locator('.bp-play').click()
        assert '✓' in pg.locator('.bp-readout').inner_text()
        assert page.locator(STDERR).count() == 0
