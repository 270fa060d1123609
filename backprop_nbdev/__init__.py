__version__ = "0.1.0"
# The public API: `from backprop_nbdev import *` gives every lesson's exports, in course order.
from .checks import *
from .dataset import *
from .params import *
from .activations import *
from .forward import *
from .loss import *
from .backward import *
from .update import *
from .training import *
from .evaluation import *
from .viz import *
from .autograd import *
from .playground import *
from .gradcheck import *
from .layers import *
from .losses_optim import *
from .datasets2d import *
from .failures import *
from .ensemble import *
from .io import *
from .playground_plus import *

# Only the functions and classes: without this, `import *` would also hand out the submodules (and `io` would
# shadow the standard library's).
import importlib as _importlib
__all__ = [n for _m in ('checks dataset params activations forward loss backward update training evaluation viz autograd '
                        'playground gradcheck layers losses_optim datasets2d failures ensemble io playground_plus').split()
           for n in _importlib.import_module(f'.{_m}', __name__).__all__]
