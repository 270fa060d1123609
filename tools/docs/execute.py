"""Execute one notebook with nbclient in a real IPython kernel, keeping its widgets' state.

The notebook runs in a copy of nbs/, so whatever it writes lands there. A last cell, removed
afterwards, lists the package modules the kernel imported: the next build's cache key hashes those
files (course.py)."""
import json, os, time
from pathlib import Path
import nbformat
from nbclient import NotebookClient

SKIP_TAG = 'skip-execution'   # nbclient's tag for cells it must not run
PROBE = ('import sys as _s, json as _j\n'
         'print(_j.dumps(sorted(getattr(m, "__file__", None) or ""\n'
         '    for n, m in list(_s.modules.items()) if n.split(".")[0] == {lib!r})))')

def mark_skips(nb):
    "Tag the cells that run nbdev_export(): they rewrite the package, which a docs build must not."
    for c in nb.cells:
        if c.cell_type == 'code' and 'nbdev_export()' in c.source:
            tags = c.metadata.setdefault('tags', [])
            if SKIP_TAG not in tags: tags.append(SKIP_TAG)

def kernel_env():
    "The kernels' environment: figures inline (whatever MPLBACKEND says), one torch thread."
    os.environ['MPLBACKEND'] = 'module://matplotlib_inline.backend_inline'
    os.environ.setdefault('OMP_NUM_THREADS', '1')   # as the tests run them: small tensors
    os.environ.pop('IN_TEST', None)

def failed_cell(nb):
    "(index, first line, error) of the first cell with an error output, or None."
    for i, c in enumerate(nb.cells):
        for o in c.get('outputs', []):
            if o.get('output_type') == 'error':
                error = ' '.join(f"{o['ename']}: {o['evalue']}".split())   # on one line
                return i, (c.source.splitlines() or [''])[0], error
    return None

def imported_modules(out, root):
    "The probe cell's output: the package's module files, relative to `root`."
    text = ''.join(o.get('text', '') for o in out.get('outputs', []) if o.get('name') == 'stdout')
    files = json.loads(text or '[]')
    return sorted(os.path.relpath(f, root) for f in files if f and Path(f).is_relative_to(root))

def run(src, workdir, root, lib, timeout=900):
    "Execute `src` in `workdir`: a dict with the notebook, its imported modules and the seconds."
    kernel_env()
    nb = nbformat.read(src, as_version=4)
    mark_skips(nb)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE.format(lib=lib)))
    # the kernel's own log only says that its local TCP sockets are unencrypted: errors still show
    client = NotebookClient(nb, timeout=timeout, kernel_name='python3', store_widget_state=True,
                            record_timing=False, resources={'metadata': {'path': str(workdir)}},
                            extra_arguments=['--IPKernelApp.log_level=ERROR'])
    t0 = time.perf_counter()
    try: client.execute()
    except Exception as e:   # a cell that raised, a timeout, a kernel that died
        last = (str(e).strip().splitlines() or [type(e).__name__])[-1]
        return dict(error=failed_cell(nb) or (None, '', last))
    probe = nb.cells.pop()
    secs = time.perf_counter() - t0
    return dict(nb=nb, modules=imported_modules(probe, Path(root)), seconds=secs)
