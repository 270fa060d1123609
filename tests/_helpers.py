"Helpers the test files share (pytest puts tests/ on sys.path, so `from _helpers import ...` works)."
from safetensors.torch import save_file
from backprop_nbdev.io import _checksum, _dump, _KEY


def write_model_file(path, info, tensors, sha=None):
    """Write `tensors` with `info` as save_model signs it (canonical JSON, "sha256" last, under its key):
    signed with `sha` if given (a stale checksum), else with the one `info` and `tensors` should have."""
    text = _dump(info)
    sha = sha or _checksum(text, tensors)
    save_file(tensors, str(path), metadata={_KEY: f'{text[:-1]},"sha256":"{sha}"}}'})
    return path
