"""Build the course's site into settings.ini's doc_path (_docs/) from nbs/, offline.

tools/docs.sh runs this after installing what it needs. Four stages:
1. execute: each notebook runs with nbclient in a copy of nbs/, two at a time; one whose cache
   key (course.py) is unchanged since the last build keeps its outputs.
2. process: nbdev's docs processors (process.py); a cell they cannot run stops the build, named.
3. pages: links between pages, the playground's recording, navigation, API reference (pages.py).
4. sphinx: myst-nb and sphinx-book-theme render the pages (conf.py), with assets.py's scripts.
Everything kept between builds is in _docs_cache/."""
import argparse, json, multiprocessing, os, re, shutil, subprocess, sys, time
from concurrent.futures import ProcessPoolExecutor
from configparser import ConfigParser
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import assets, course, pages   # noqa: E402  (beside this file)

ROOT = course.ROOT
CACHE = ROOT / '_docs_cache'
PROC_VERSION = 'backprop-docs proc v1'   # bump when what process.py makes of a notebook changes

def settings():
    c = ConfigParser(delimiters=['='])
    c.read(ROOT / 'settings.ini', encoding='utf-8')
    return c['DEFAULT']

def say(msg): print(msg, flush=True)

def fail(title, lines):
    "Stop the build, saying what failed and where."
    raise SystemExit('\n'.join([f'docs: {title}', *(f'  {l}' for l in lines)]))

def pool(jobs):
    "Worker processes started afresh (spawn): each loads torch and the package itself."
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context('spawn'))

def record(path):
    "A JSON record the cache keeps, or None."
    try: return json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError): return None

def write_if_changed(path, text):
    "Write `text` to `path` unless it holds it already, so that Sphinx redoes changed pages only."
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding='utf-8') != text:
        path.write_text(text, encoding='utf-8')

def fresh(nb, rec):
    "True if the executed copy that `rec` describes is current for notebook `nb`."
    return rec is not None and rec.get('key') == course.exec_key(nb, rec['deps'])

def by_cost(todo, out):
    "Longest first (the last build's times, else size): the two workers finish closer together."
    def cost(nb):
        return (record(out / f'{nb.stem}.json') or {}).get('seconds', nb.stat().st_size / 1e4)
    return sorted(todo, key=cost, reverse=True)

def save_run(nb, r, run, out):
    "Keep an executed notebook and the record of its key."
    import nbformat
    deps = course.dependencies(r['modules'])
    nbformat.write(r['nb'], out / f'{nb.stem}.ipynb')
    rec = dict(key=course.exec_key(run / nb.name, deps), deps=deps, seconds=round(r['seconds'], 1))
    (out / f'{nb.stem}.json').write_text(json.dumps(rec, indent=1), encoding='utf-8')

def run_notebooks(todo, nbs_dir, out, jobs):
    "Execute `todo` in a fresh copy of nbs/, keeping each result; stop naming any failure."
    import execute
    run = CACHE / 'run' / 'nbs'
    shutil.rmtree(run.parent, ignore_errors=True)
    shutil.copytree(nbs_dir, run, ignore=shutil.ignore_patterns('.ipynb_checkpoints'))
    lib, failures = settings()['lib_path'], []
    with pool(jobs) as ex:
        futs = [(nb, ex.submit(execute.run, run / nb.name, run, ROOT, lib))
                for nb in by_cost(todo, out)]
        for nb, f in futs:
            r = f.result()
            if 'error' in r:
                idx, first, err = r['error']
                failures.append(f'{nb.name} cell {idx} ({first!r}): {err}')
                say(f'  FAILED {nb.name}: cell {idx}: {err}')
            else:
                save_run(nb, r, run, out)
                say(f'  ran {nb.name} in {r["seconds"]:.0f} s')
    if failures: fail('these notebooks raised when executed (none is skipped):', failures)

def forget_gone(out, nbs):
    "Drop what the cache holds for notebooks no longer in nbs/ (renamed, say)."
    stems = {nb.stem for nb in nbs}
    for p in out.glob('*.*'):
        if p.stem not in stems: p.unlink()

def execute_all(nbs, nbs_dir, jobs, force):
    "Execute the notebooks whose key changed: {stem: executed notebook}."
    out = CACHE / 'exec'
    out.mkdir(parents=True, exist_ok=True)
    forget_gone(out, nbs)
    todo = [nb for nb in nbs if force or not fresh(nb, record(out / f'{nb.stem}.json'))]
    say(f'execute: {len(todo)} of {len(nbs)} notebooks ({len(nbs) - len(todo)} unchanged: cached)')
    if todo: run_notebooks(todo, nbs_dir, out, jobs)
    return {nb.stem: out / f'{nb.stem}.ipynb' for nb in nbs}

def proc_key(nb):
    "What a processed page depends on: its execution, nbdev, process.py, the doc links, settings."
    import nbdev
    lib = ROOT / settings()['lib_path']
    files = (HERE / 'process.py', lib / '_modidx.py', ROOT / 'settings.ini')
    parts = [PROC_VERSION, record(CACHE / 'exec' / f'{nb.stem}.json')['key'], nbdev.__version__,
             *(course.sha(p.read_bytes()) for p in files)]
    return course.sha('\n'.join(parts).encode())

def processor_report(errors):
    "The cells nbdev's processors could not run, one block each: where, what, what to change."
    lines = []
    for e in errors:
        lines += [f"{e['nb']} cell {e['index']}: {e['first']!r}", f"    {e['error']}",
                  f"    fix: {e['fix']}"]
    return lines

def process_all(nbs, executed, jobs, force):
    "nbdev's processors on each executed notebook whose page is stale: {stem: page}."
    import process
    out = CACHE / 'proc'
    out.mkdir(parents=True, exist_ok=True)
    forget_gone(out, nbs)
    keys = {nb.stem: proc_key(nb) for nb in nbs}
    todo = [nb for nb in nbs
            if force or (record(out / f'{nb.stem}.json') or {}).get('key') != keys[nb.stem]]
    say(f"process: {len(todo)} of {len(nbs)} notebooks through nbdev's processors")
    errors = []
    with pool(jobs) as ex:
        futs = [(nb, ex.submit(process.run, executed[nb.stem], nb, ROOT)) for nb in todo]
        for nb, f in futs:
            r = f.result()
            if 'error' in r: errors.append(r['error'])
            else:
                page = json.dumps(r['nb'], indent=1)
                (out / f'{nb.stem}.ipynb').write_text(page, encoding='utf-8')
                (out / f'{nb.stem}.json').write_text(json.dumps(dict(key=keys[nb.stem])))
    if errors:
        fail("nbdev's docs processors cannot run these cells (nbdev_docs would stop here too):",
             processor_report(errors))
    return {nb.stem: out / f'{nb.stem}.ipynb' for nb in nbs}

def recording(images):
    "The playground's recording (tools/record_playground.py), as pages.recording_html wants it."
    meta = record(images / 'playground.json')
    if meta is None or not all((images / meta[k]).exists() for k in ('animation', 'still')):
        return None
    from PIL import Image
    with Image.open(images / meta['still']) as im: w, h = im.size
    return dict(meta, animation=f"images/{meta['animation']}", still=f"images/{meta['still']}",
                width=w, height=h)

def module_of(nb, lib):
    "The module a notebook exports (its default_exp), or None."
    m = re.search(r'#\|\s*default_exp\s+([\w.]+)', nb.read_text(encoding='utf-8'))
    return f'{lib}.{m[1]}' if m else None

def title_of(doc):
    "A page's title: its first heading."
    heads = [pages.src(c) for c in pages.md_cells(doc) if pages.src(c).startswith('# ')]
    return heads[0].splitlines()[0][2:].strip() if heads else ''

def navigation(nbs, names):
    "The sidebar's parts in course order: the lessons, the appendix, then the API reference."
    part = lambda p: [names[nb.stem] for nb in nbs if course.part(nb) == p]
    return [('Lessons', part('lessons')), ('Appendix', part('appendix')), ('More', part('other')),
            ('Reference', ['api'])]

def finish(nbs, docs, names, cfg):
    "Links, the playground's recording and only the widgets shown, on every page."
    doc_url = cfg['doc_host'].rstrip('/') + cfg['doc_baseurl']
    rec = recording(nbs[0].parent / 'images')
    page_anchors = {names[s]: pages.anchors(d) for s, d in docs.items()}
    for nb in nbs:
        d = docs[nb.stem]
        pages.add_links(d, doc_url, page_anchors, names)
        if pages.replace_playgrounds(d, rec): say(f'  {nb.name}: the playground as its recording')
        pages.prune_widgets(d)

def build_pages(nbs, procs, cfg):
    "The Sphinx source: a page per notebook, the navigation on the index, the API reference."
    site, names = CACHE / 'site', {nb.stem: course.page_name(nb) for nb in nbs}
    if 'index' not in names: fail('no index.ipynb', ['the site needs its home page'])
    docs = {nb.stem: pages.read_json(procs[nb.stem]) for nb in nbs}
    finish(nbs, docs, names, cfg)
    pages.add_navigation(docs['index'], navigation(nbs, names))
    mods = [(m, names[nb.stem], title_of(docs[nb.stem]), docs[nb.stem]) for nb in nbs
            if (m := module_of(nb, cfg['lib_name']))]
    files = {f'{names[s]}.ipynb': json.dumps(d, indent=1) for s, d in docs.items()}
    files['api.md'] = pages.api_page(mods)
    for name, text in files.items(): write_if_changed(site / name, text)
    for p in site.glob('*.*'):
        if p.is_file() and p.name not in files: p.unlink()   # a notebook renamed or gone
    sync_images(nbs[0].parent / 'images', [site / 'images', CACHE / 'extra' / 'images'])
    return [n.rsplit('.', 1)[0] for n in files]

def sync_images(src, dests):
    "nbs/images/ for the pages (markdown images) and as is at the site's root (raw HTML ones)."
    for d in dests:
        shutil.rmtree(d, ignore_errors=True)
        if src.is_dir(): shutil.copytree(src, d)   # copy2: times kept, Sphinx sees no change

def static_files(cfg):
    "_docs_cache/static: the pinned npm packages and anywidget's front end, redone on change."
    import anywidget
    static, specs = CACHE / 'static', cfg.get('docs_npm', '')
    stamp = f'{specs} anywidget {anywidget.__version__}'
    if (static / '.stamp').exists() and (static / '.stamp').read_text() == stamp: return
    shutil.rmtree(static, ignore_errors=True)
    assets.vendor_static(specs.split(), CACHE / 'vendor', static)
    (static / '.stamp').write_text(stamp)

def sphinx(out, jobs):
    "Render the pages into `out`; any Sphinx warning fails the build."
    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-q', '-W', '--keep-going',
           '-j', str(jobs), '-c', str(HERE), '-d', str(CACHE / 'doctrees'), str(CACHE / 'site'),
           str(out)]
    if subprocess.run(cmd, cwd=ROOT).returncode: fail('sphinx-build failed', [' '.join(cmd)])

def drop_stale_html(out, docs):
    "Remove pages of notebooks that are gone: the site holds what the navigation lists."
    keep = set(docs) | {'genindex', 'search'}
    for p in out.glob('*.html'):
        if p.stem not in keep: p.unlink()

def timed(name, fn, *args):
    t0 = time.perf_counter()
    r = fn(*args)
    say(f'{name}: {time.perf_counter() - t0:.1f} s')
    return r

def main(argv=None):
    p = argparse.ArgumentParser(description='Build the course site into _docs/ (doc_path).')
    p.add_argument('--force', action='store_true', help='execute and process every notebook again')
    p.add_argument('--jobs', type=int, default=2, help='notebooks run at once (default 2)')
    p.add_argument('--nbs', type=Path, help="the notebooks' folder (default: nbs_path)")
    a = p.parse_args(argv)
    cfg, t0 = settings(), time.perf_counter()
    nbs_dir, out = (a.nbs or ROOT / cfg['nbs_path']).resolve(), ROOT / cfg['doc_path']
    nbs = course.notebooks(nbs_dir)
    # the kernels and workers import this tree's package, whatever else the environment holds
    path = [str(ROOT), os.environ.get('PYTHONPATH')]
    os.environ['PYTHONPATH'] = os.pathsep.join(filter(None, path))
    executed = timed('execute', execute_all, nbs, nbs_dir, a.jobs, a.force)
    procs = timed('process', process_all, nbs, executed, a.jobs, a.force)
    docs = timed('pages', build_pages, nbs, procs, cfg)
    timed('assets', static_files, cfg)
    timed('sphinx', sphinx, out, a.jobs)
    drop_stale_html(out, docs)
    say(f'site built in {time.perf_counter() - t0:.0f} s: open {out / "index.html"}')

if __name__ == '__main__': main()
