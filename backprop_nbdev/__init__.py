"""The public API: `from backprop_nbdev import *` gives what a learner or user calls, in course order.

Each module's `__all__` (nbdev's `#| export` cells) is its public part; plumbing is `#| exporti`
and stays in its module. The appendix's machinery (checks, runtime, board, the command line) is
imported by name where it is needed. Nothing heavy loads with the package itself: the lessons'
modules (and torch) load on first use of a name, the widgets on first use of theirs. So the Jupyter
server, which imports `backprop_nbdev.server` (A10_server), never imports torch, and a script (and
`backprop-train`) never imports ipywidgets.
"""
__version__ = "0.1.0"

import os as _os
import signal as _signal
import sys as _sys

def interrupted_while_loading(signum, frame):
    "Ctrl-C while `backprop-train` is still importing torch: one line, exit code 130, nothing done."
    _sys.stderr.write("backprop-train: error: interrupted while starting; nothing was done\n")
    _os._exit(130)

# the console script imports this package, then torch (seconds), before its own Ctrl-C handling
if (_sys.argv and _os.path.basename(_sys.argv[0]) == 'backprop-train'
        and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler):
    _signal.signal(_signal.SIGINT, interrupted_while_loading)

# the lessons' modules, in course order: their names load together, on first use of any of them
_MODULES = ('xor params activations forward loss backward sgd loop evaluation viz '
            'autograd gradcheck diagnosis layers optim datasets trainer failures '
            'ensemble io').split()
# the widgets load on first use (the playground module loads what lessons 23 and 25 add to it)
_LAZY = {'Playground': 'playground', 'Stepper': 'stepper'}

def _load():
    "Import the lessons' modules and bind their public names here; `__all__` is theirs in order."
    from importlib import import_module
    names = []
    for m in _MODULES:
        mod = import_module(f'.{m}', __name__)
        globals().update({n: getattr(mod, n) for n in mod.__all__})
        names += mod.__all__
    globals()['__all__'] = names + list(_LAZY)

def __getattr__(name):
    "Load the API on first use of a public name (or of `__all__`, as `import *` asks for it)."
    from importlib import import_module
    if name in _LAZY: return getattr(import_module(f'.{_LAZY[name]}', __name__), name)
    if name in _MODULES: return import_module(f'.{name}', __name__)
    if name.startswith('__') and name != '__all__':
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if '__all__' not in globals(): _load()
    if name in globals(): return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

def __dir__(): return sorted(set(globals()) | set(__getattr__('__all__')))
