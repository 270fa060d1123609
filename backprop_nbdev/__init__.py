"""The public API: `from backprop_nbdev import *` gives what a learner or user calls, in course order.

Each module's `__all__` (nbdev's `#| export` cells) is its public part; plumbing is `#| exporti`
and stays in its module. The appendix's machinery (checks, runtime, board, the command line) is
imported by name where it is needed. The widgets load on first use, so that a script (and
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

# the console script imports this package (torch: seconds) before its own Ctrl-C handling begins
if (_sys.argv and _os.path.basename(_sys.argv[0]) == 'backprop-train'
        and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler):
    _signal.signal(_signal.SIGINT, interrupted_while_loading)

from .xor import *
from .params import *
from .activations import *
from .forward import *
from .loss import *
from .backward import *
from .sgd import *
from .loop import *
from .evaluation import *
from .viz import *
from .autograd import *
from .gradcheck import *
from .diagnosis import *
from .layers import *
from .optim import *
from .datasets import *
from .trainer import *
from .failures import *
from .ensemble import *
from .io import *

# the widgets load on first use (the playground module loads what lessons 23 and 25 add to it)
_LAZY = {'Playground': 'playground', 'Stepper': 'stepper'}
_MODULES = ('xor params activations forward loss backward sgd loop evaluation viz '
            'autograd gradcheck diagnosis layers optim datasets trainer failures '
            'ensemble io').split()

def _public(m):
    "The names module `m` exports."
    import sys
    return sys.modules[f'{__name__}.{m}'].__all__

__all__ = [n for m in _MODULES for n in _public(m)] + list(_LAZY)

def __getattr__(name):
    "Load the widgets on first use."
    if name in _LAZY:
        from importlib import import_module
        return getattr(import_module(f'.{_LAZY[name]}', __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
