__version__ = "0.1.0"
# The public API: `from backprop_nbdev import *` gives what a learner or a user calls, in course order: the step
# functions, layers, losses and optimisers, datasets, the Trainer, the Playground, the gradient checks, save/load.
# Validators, caps and drawing internals stay in their modules. The widgets load on first use, so that
# `import backprop_nbdev.cli` (and any script) never imports ipywidgets.
import importlib as _importlib

_MODULES = ('dataset params activations forward loss backward update training evaluation viz autograd gradcheck '
            'layers losses_optim datasets2d trainer failures ensemble io').split()
_LAZY = {'Playground': 'playground', 'Stepper': 'playground'}
_PLUMBING = {'check_params', 'max_weights', 'max_scale', 'max_points', 'max_hidden', 'max_depth', 'Table', 'GradTable',
             'BackwardCheck', 'TraceStep', 'TrainerState', 'Batches', 'reference_forward', 'reference_steps',
             'ACTIVATION_LAYERS', 'data_fingerprint', 'atomic_write', 'logsumexp', 'FORMAT', 'FORMAT_VERSION',
             'DigitsSplit'}

def _api(m):
    mod = _importlib.import_module(f'.{m}', __name__)
    return [n for n in mod.__all__ if n not in _PLUMBING], mod

__all__ = []
for _m in _MODULES:
    _names, _mod = _api(_m)
    globals().update({n: getattr(_mod, n) for n in _names})
    __all__ += _names
__all__ += list(_LAZY)

def __getattr__(name):
    "Load the widgets on first use."
    if name in _LAZY: return getattr(_importlib.import_module(f'.{_LAZY[name]}', __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
