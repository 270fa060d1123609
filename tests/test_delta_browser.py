"""End-to-end: the δ view (25_backward_signal) in a real JupyterLab driven by Chromium: it shows,
stepping changes the picture, hover names a δ, a point can be chosen, a wire click draws each
point's share. Skips as tests/test_playground_browser.py does. BACKPROP_UPDATE_IMAGES=1 writes
the lesson's picture, nbs/images/25_delta_view.png."""
import os
from test_playground_browser import (ARTIFACTS, ROOT, browser_or_skip, chromium_page, jupyter,
                                     one_cell, open_and_run_all, press, until)

SETUP = """from backprop_nbdev import Playground
import backprop_nbdev.delta
pg = Playground()
pg.trainer.step(500)   # XOR's plateau
pg"""
SHOW = "box = pg.delta_view()\nbox"
PIXELS = """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let h = 0; for (let i = 0; i < d.length; i += 7) h = (h * 31 + d[i]) % 1000000007; return h; }"""


def test_delta_view_in_jupyterlab(tmp_path):
    "The δ view shows, steps, hovers, picks and draws a wire's shares, with nothing on stderr."
    sync_playwright = browser_or_skip()
    ARTIFACTS.mkdir(exist_ok=True)
    with jupyter(tmp_path) as (base, token, nbs), chromium_page(sync_playwright) as page:
        errors = []
        page.on('pageerror', lambda e: errors.append(str(e)))
        one_cell(nbs, 'delta.ipynb', SETUP, SHOW)
        open_and_run_all(page, base, token, 'delta.ipynb')
        net = page.locator('.bp-delta-net')
        net.wait_for()
        net.scroll_into_view_if_needed()
        until(page, lambda: net.get_attribute('data-source') == 'the batch mean', 'the δ view')
        before = net.evaluate(PIXELS)
        press(page.locator('body'), 'bp-delta-step', 'ArrowRight', 2)
        until(page, lambda: net.get_attribute('data-step') == '2', 'step 2')
        assert net.evaluate(PIXELS) != before, 'stepping back left the picture as it was'
        page.locator('.bp-delta-source select').select_option(label='point 1')
        until(page, lambda: net.get_attribute('data-source') == 'point 1', 'point 1 chosen')
        box = net.bounding_box()
        page.mouse.move(box['x'] + 440, box['y'] + 110)             # the output unit
        tip = page.locator('.bp-delta-tip')
        until(page, lambda: 'δ = ' in tip.inner_text(), 'a δ on hover')
        page.mouse.click(box['x'] + 340, box['y'] + 80)             # hidden unit 1 → output
        shares = page.locator('.bp-delta-shares')
        until(page, lambda: shares.get_attribute('data-wire') == 'W2[1, 1]', 'the shares drawn')
        assert abs(float(shares.get_attribute('data-sum'))) < 0.01
        page.mouse.move(0, 0)                                       # the tooltip away
        until(page, lambda: not tip.is_visible(), 'the tooltip hidden')
        assert not errors, errors
        page.locator('.bp-delta').screenshot(path=ARTIFACTS / 'delta-view.png')
        if os.environ.get('BACKPROP_UPDATE_IMAGES') == '1':   # the lesson's picture, on asking
            page.locator('.bp-delta').screenshot(path=ROOT / 'nbs' / 'images' / '25_delta_view.png')
