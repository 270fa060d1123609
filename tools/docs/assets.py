"""The JavaScript a page needs, served by the site itself so that it works offline: MathJax,
RequireJS and the ipywidgets embed manager (from the npm registry, at the versions settings.ini's
docs_npm pins, fetched once into the cache), and anywidget's front end (from its Python package,
so that it matches the kernel's)."""
import shutil, subprocess, tarfile, tempfile
from pathlib import Path

# what to take from each npm package, and where it goes under _static/
# MathJax: its TeX-to-HTML bundle and the parts that bundle loads on demand, not its other bundles
MATHJAX = ['tex-chtml.js', 'input', 'output/chtml', 'a11y', 'sre', 'ui', 'adaptors']
LAYOUT = {'mathjax': [(f'es5/{p}', f'mathjax/{p}') for p in MATHJAX],
          'requirejs': [('require.js', 'require.js')],
          '@jupyter-widgets/html-manager': [('dist', 'widgets')]}
SKIP = ('.map', 'embed.js', 'libembed-amd.js')   # the AMD bundle and its fonts are enough

def name_of(spec):
    "'@scope/name@1.2.3' -> '@scope/name'."
    return spec.rsplit('@', 1)[0]

def fetch(spec, vendor):
    "The unpacked npm package `spec` under `vendor`, fetched with npm the first time."
    dest = vendor / spec.replace('/', '+')
    if (dest / 'package.json').exists(): return dest
    if not shutil.which('npm'): raise RuntimeError(f'npm is needed (once) to fetch {spec}')
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run(['npm', 'pack', '--silent', '--pack-destination', tmp, spec],
                           capture_output=True, text=True)
        if r.returncode: raise RuntimeError(f'npm pack {spec} failed:\n{r.stderr}')
        tgz = next(Path(tmp).glob('*.tgz'))
        kw = {'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}   # Python >= 3.10.12
        with tarfile.open(tgz) as t: t.extractall(tmp, **kw)
        shutil.rmtree(dest, ignore_errors=True)
        shutil.move(Path(tmp) / 'package', dest)
    return dest

def copy(src, dst):
    "Copy a file or a tree, leaving out source maps and the bundles a page does not load."
    if src.is_file(): return shutil.copy2(src, dst)
    ignore = lambda d, names: [n for n in names if n.endswith(SKIP)]
    shutil.copytree(src, dst, ignore=ignore, dirs_exist_ok=True)

def anywidget_js(static):
    "anywidget's AMD module for the embed manager: the nbextension its Python package ships."
    import anywidget
    src = Path(anywidget.__file__).parent / 'nbextension' / 'index.js'
    (static / 'anywidget').mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, static / 'anywidget' / 'index.js')

def vendor_static(specs, vendor, static):
    "Fill `static` (the site's extra _static/) with the pinned packages' files and anywidget's."
    for spec in specs:
        pkg = fetch(spec, vendor)
        for src, dst in LAYOUT[name_of(spec)]:
            (static / dst).parent.mkdir(parents=True, exist_ok=True)
            copy(pkg / src, static / dst)
    anywidget_js(static)
