"""The course's notebooks in reading order, their page names, and the cache key of each execution.

The key of a notebook is the SHA-256 of: KEY_VERSION, the Python version, the notebook file's
bytes, and the path and bytes of each dependency file. The dependency files are the package modules
the notebook's kernel had imported when it finished (recorded by the previous run, see execute.py),
plus the package's data files (static/) named in those modules' source: read at run time, not
imported. A notebook never run, or whose key changed, runs again; the others keep their outputs."""
import hashlib, re, sys
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEY_VERSION = 'backprop-docs exec v1'   # bump when the way notebooks are executed changes

def order_key(path):
    "Sort key: index first, then the numbered lessons, then the A-numbered appendix, then the rest."
    stem = Path(path).stem
    if stem == 'index': return (0, 0, stem)
    if m := re.match(r'(\d+)_', stem): return (1, int(m[1]), stem)
    if m := re.match(r'A(\d+)_', stem): return (2, int(m[1]), stem)
    return (3, 0, stem)

def part(path):
    "'index', 'lessons', 'appendix' or 'other': where the notebook goes in the navigation."
    return ('index', 'lessons', 'appendix', 'other')[order_key(path)[0]]

def notebooks(nbs):
    "Every notebook in `nbs`, in course order."
    return sorted(Path(nbs).glob('*.ipynb'), key=order_key)

def page_name(path):
    "The page's name as nbdev names it (so its doc links find it): no number prefix, lower case."
    return re.sub(r'^\d+[a-zA-Z0-9]*_', '', Path(path).stem.lower())

def sha(data): return hashlib.sha256(data).hexdigest()

def lib_dir():
    cfg = ConfigParser(delimiters=['='])
    cfg.read(ROOT / 'settings.ini', encoding='utf-8')
    return ROOT / cfg['DEFAULT']['lib_path']

def data_files(modules):
    "The package's non-Python files named in `modules`' source, or in those files (widgets' JS)."
    data = [p for p in lib_dir().rglob('*') if p.is_file() and p.suffix not in ('.py', '.pyc')]
    found, texts = set(), [(ROOT / m).read_text(encoding='utf-8') for m in modules]
    while texts:
        src = '\n'.join(texts)
        new = {p for p in data if p.name in src} - found
        found |= new
        texts = [p.read_text(encoding='utf-8', errors='replace') for p in new]
    return sorted(p.relative_to(ROOT).as_posix() for p in found)

def dependencies(modules):
    "The dependency files (relative to the repository) of a notebook that imported `modules`."
    mods = sorted(m for m in modules if (ROOT / m).is_file())
    return mods + data_files(mods)

def exec_key(nb, deps):
    "The cache key of `nb`'s execution, given its dependency files `deps` (see above)."
    h = hashlib.sha256(f'{KEY_VERSION}\n{sys.version}\n'.encode())
    h.update(sha(Path(nb).read_bytes()).encode())
    for d in sorted(deps):
        p = ROOT / d
        h.update(f'\n{d}:{sha(p.read_bytes()) if p.is_file() else "missing"}'.encode())
    return h.hexdigest()
