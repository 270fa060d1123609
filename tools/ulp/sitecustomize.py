"""Start-up hook of the one-ulp mode (ulp_mode.py): with BACKPROP_ULP=1 and this folder on
PYTHONPATH, every Python process enters the mode as soon as it imports torch; processes that never
import torch pay nothing."""
import importlib.abc, importlib.util, os, sys


class EnterModeAfterTorch(importlib.abc.MetaPathFinder):
    "Finds torch as usual, then has its loader enter the one-ulp mode once torch has loaded."
    def find_spec(self, name, path=None, target=None):
        if name != 'torch':
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader.exec_module = then_enter_mode(spec.loader.exec_module)
        return spec


def then_enter_mode(exec_module):
    "exec_module followed by entering the mode."
    def run(module):
        exec_module(module)
        # absolute: a relative PYTHONPATH entry breaks once the process changes directory
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        keep, sys.dont_write_bytecode = sys.dont_write_bytecode, True   # no __pycache__ in tools/
        import ulp_mode
        sys.dont_write_bytecode = keep
        ulp_mode.install()
    return run


if os.environ.get('BACKPROP_ULP') == '1':
    sys.meta_path.insert(0, EnterModeAfterTorch())
