"""Helpers the test files share (pytest puts tests/ on sys.path, so `from _helpers import ...`
works)."""
from safetensors.torch import save_file
from backprop_nbdev.io import signed_metadata, METADATA_KEY


def write_model_file(path, info, tensors, sha=None):
    """Write `tensors` with `info` as save_model signs it (canonical JSON, "sha256" last, under its
    key): signed with `sha` if given (a stale checksum), else with the one `info` and `tensors`
    should have."""
    text = signed_metadata(info, tensors)
    if sha: text = f'{text[:-67]}"{sha}"}}'      # the last 64 hex digits, between quotes, replaced
    save_file(tensors, str(path), metadata={METADATA_KEY: text})
    return path
