"""The course's website (`bash tools/docs.sh`), checked as a reader meets it: every page of _docs/
opened in headless Chromium from a local HTTP server, with no console error, no failed request,
every image loaded, every internal link (and its #anchor) found, no error output; the stepper
stepping from its saved state, the playground's recording playing (its still where motion is
reduced), search answering, the navigation in course order.

Runs when BACKPROP_DOCS=1 (`bash tools/docs.sh --check` builds and sets it; a missing site fails
then) or when a site has been built; skips otherwise, and skips without Chromium unless
BACKPROP_REQUIRE_BROWSER=1."""
import functools, json, os, re, sys, threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit
import pytest
from test_playground_browser import CHROMIUM, CHROMIUM_ARGS, browser_or_skip

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tools' / 'docs'))
import course   # noqa: E402  (the site's own notion of the course's order and page names)

SITE, CACHE = ROOT / '_docs', ROOT / '_docs_cache'
REQUIRED = os.environ.get('BACKPROP_DOCS') == '1'

def site_or_skip():
    "The built site's folder; skip when there is none, or it lacks a notebook (fail if required)."
    why = None
    if not ((SITE / 'index.html').exists() and (CACHE / 'site').is_dir()):
        why = 'the docs site is not built (bash tools/docs.sh --check builds and checks it)'
    else:
        names = {course.page_name(nb) for nb in course.notebooks(ROOT / 'nbs')}
        built = {p.stem for p in (CACHE / 'site').glob('*.ipynb')}
        if names != built:
            why = f'the site is older than nbs/ ({sorted(names ^ built)}): run bash tools/docs.sh'
    if why:
        if REQUIRED: pytest.fail(why)
        pytest.skip(why)
    return SITE

@pytest.fixture(scope='module')
def server():
    "The site on a local HTTP server, as GitHub Pages would serve it; yields its base URL."
    site = site_or_skip()
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try: yield f'http://127.0.0.1:{httpd.server_address[1]}'
    finally:
        httpd.shutdown()
        httpd.server_close()

@pytest.fixture(scope='module')
def page(server):
    sync_playwright = browser_or_skip()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            p = browser.new_page(viewport=dict(width=1400, height=1000))
            p.set_default_timeout(30_000)
            yield p
        finally: browser.close()

def pages():
    "Every HTML page of the site (the theme's assets aside)."
    return sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob('*.html')
                  if not p.relative_to(SITE).parts[0].startswith('_'))

class Ids(HTMLParser):
    "The ids (and a names) a page holds: where its #anchors may land."
    def __init__(self):
        super().__init__()
        self.ids = set()
    def handle_starttag(self, tag, attrs):
        self.ids |= {v for k, v in attrs if k == 'id' or (tag == 'a' and k == 'name')}

@functools.cache
def ids_of(path):
    p = Ids()
    p.feed(path.read_text(encoding='utf-8'))
    return p.ids

def broken_links(base, hrefs):
    "The internal links among `hrefs` (absolute URLs) whose file or #anchor is not in the site."
    bad = []
    for h in hrefs:
        u = urlsplit(h)
        if f'{u.scheme}://{u.netloc}' != base: continue
        path = SITE / unquote(u.path).lstrip('/')
        if path.is_dir(): path = path / 'index.html'
        if not path.is_file(): bad.append(h)
        elif u.fragment and path.suffix == '.html' and unquote(u.fragment) not in ids_of(path):
            bad.append(h)
    return bad

LOAD_IMAGES = """async () => {
    const imgs = [...document.images];
    imgs.forEach(i => { i.loading = 'eager'; });
    await Promise.all(imgs.map(i => i.decode().catch(() => null)));
    return imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.currentSrc || i.src);
}"""

# what the embed manager puts where a widget failed (the same words may well be in the prose)
WIDGET_ERRORS = """() => [...document.querySelectorAll('.jupyter-widgets')]
    .filter(e => e.textContent.trim() === 'Error displaying widget').length"""

def visit(page, url):
    "Open `url`: (console errors and failed requests, images that did not load, every link's href)."
    problems = []
    on_console = lambda m: problems.append(f'console: {m.text}') if m.type == 'error' else None
    on_error = lambda e: problems.append(f'page error: {e}')
    on_response = lambda r: problems.append(f'{r.status}: {r.url}') if r.status >= 400 else None
    on_failed = lambda r: problems.append(f'failed: {r.url} {r.failure}')
    for ev, fn in (('console', on_console), ('pageerror', on_error), ('response', on_response),
                   ('requestfailed', on_failed)):
        page.on(ev, fn)
    try:
        page.goto(url, wait_until='load')
        page.wait_for_load_state('networkidle')
        broken = page.evaluate(LOAD_IMAGES)
        page.wait_for_timeout(300)   # late widget renders report their errors too
        hrefs = page.eval_on_selector_all('a[href]', 'as => as.map(a => a.href)')
    finally:
        for ev, fn in (('console', on_console), ('pageerror', on_error), ('response', on_response),
                       ('requestfailed', on_failed)):
            page.remove_listener(ev, fn)
    return problems, broken, hrefs

def test_every_page_opens_clean(page, server):
    "Every page: no console error or failed request, every image loaded, every internal link found."
    assert len(pages()) >= 5, pages()
    report = {}
    for name in pages():
        problems, broken, hrefs = visit(page, f'{server}/{name}')
        problems += [f'image not loaded: {b}' for b in broken]
        problems += [f'broken link: {h}' for h in broken_links(server, hrefs)]
        if page.locator('.cell_output .output.traceback, .cell_output .output.error').count():
            problems.append('an error output is shown')
        if page.evaluate(WIDGET_ERRORS): problems.append('a widget failed to render')
        if problems: report[name] = problems
    assert not report, json.dumps(report, indent=1)[:6000]

def test_no_error_outputs_in_the_executed_notebooks():
    "The executed notebooks behind the site hold no error output (and each has its page)."
    site_or_skip()
    errors = []
    for nb in course.notebooks(ROOT / 'nbs'):
        p = CACHE / 'exec' / f'{nb.stem}.ipynb'
        for i, c in enumerate(json.loads(p.read_text(encoding='utf-8'))['cells']):
            errors += [(p.name, i, o.get('ename')) for o in c.get('outputs', [])
                       if o.get('output_type') == 'error']
    assert not errors, errors

def test_navigation_is_in_course_order(page, server):
    "The sidebar: the index, the lessons in order, then the appendix under its own caption."
    nbs = course.notebooks(ROOT / 'nbs')
    page.goto(f'{server}/index.html')
    captions = [c.strip() for c in page.locator('.bd-sidebar-primary p.caption').all_inner_texts()]
    parts = [cap for cap, part in (('Lessons', 'lessons'), ('Appendix', 'appendix'))
             if any(course.part(nb) == part for nb in nbs)]
    assert captions[:len(parts)] == parts, captions
    links = page.eval_on_selector_all('.bd-sidebar-primary nav a.reference.internal',
                                      'as => as.map(a => a.getAttribute("href"))')
    order = [re.sub(r'\.html.*$', '', h) for h in links]
    want = [course.page_name(nb) for nb in nbs if course.part(nb) in ('lessons', 'appendix')]
    assert [o for o in order if o in want] == want, order

def test_stepper_steps_from_saved_state(page, server):
    "The stepper works with no kernel: Next and Back walk the steps from the embedded state."
    found = 0
    for name in pages():
        if 'bp-stepper' not in (SITE / name).read_text(encoding='utf-8'):
            continue   # no stepper in this page's saved widgets
        page.goto(f'{server}/{name}')
        st = page.locator('.bp-stepper').first
        st.wait_for()   # drawn by the embed manager once the page has loaded
        st.scroll_into_view_if_needed()
        where = st.locator('.bp-stepper-where')
        assert 'step 1 of' in where.inner_text(), where.inner_text()
        st.locator('.bp-stepper-next').click()
        page.wait_for_function('el => /step 2 of/.test(el.textContent)', arg=where.element_handle())
        st.locator('.bp-stepper-back').click()
        page.wait_for_function('el => /step 1 of/.test(el.textContent)', arg=where.element_handle())
        found += 1
    assert found, 'no page shows a stepper'

def test_playground_recording_moves_and_has_a_still(page, server):
    "Where the playground was, its recording plays; with reduced motion, the still shows instead."
    from PIL import Image
    with_rec = [n for n in pages() if 'bp-recording' in (SITE / n).read_text(encoding='utf-8')]
    assert with_rec, 'no page shows the playground recording'
    for mode, ext in (('no-preference', '.webp'), ('reduce', '.png')):
        page.emulate_media(reduced_motion=mode)
        page.goto(f'{server}/{with_rec[0]}')
        img = page.locator('figure.bp-recording img').first
        img.scroll_into_view_if_needed()
        page.wait_for_function('i => i.complete && i.naturalWidth > 0', arg=img.element_handle())
        src = img.evaluate('i => i.currentSrc')
        assert urlsplit(src).path.endswith(ext), (mode, src)
    page.emulate_media(reduced_motion='no-preference')
    with Image.open(SITE / urlsplit(src).path.lstrip('/').replace('.png', '.webp')) as im:
        assert im.n_frames >= 10, im.n_frames   # real motion: many frames

def test_search_finds_the_course(page, server):
    "The theme's search answers from the built index."
    page.goto(f'{server}/search.html?q=backpropagation')
    page.wait_for_selector('#search-results li', timeout=30_000)
    assert page.locator('#search-results li').count() >= 2
