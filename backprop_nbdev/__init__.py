__version__ = "0.1.0"
# The public API: `from backprop_nbdev import *` gives every lesson's exports.
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
