"""One-ulp mode: matrix products and reductions called from Python round their inexact results
one ulp differently, as a pure function of the op and its inputs (shapes, strides, dtypes, bytes).

A run under this mode stands for a CPU whose kernels add in another order: a replay of the same
op on the same data stays bit-identical, another memory layout, shape or formula rounds
differently, exact results stay exact, and no element moves by more than one ulp.

Which elements move:
- float32: the op runs again on float64 copies (the reference). An element is inexact when the
  float32 result differs from the reference; about half of those move one ulp towards the
  reference (past it, when the result was a neighbour of the true value).
- float64 has no wider type here: every finite nonzero element is a candidate; about half of them
  move one ulp, up or down.
- Either dtype: a product or a sum of integer-valued inputs small enough that every partial sum is
  exact (a bound below 2**24 for float32, 2**53 for float64) is the same in any order, and a mean
  or a norm of it then rounds once, correctly, on every CPU: such calls are left alone.
Which half, and which way in float64, is decided per element by a hash of the op, of all its
inputs and of the element's own value (and reference): two elements computed from equal data in
one call (identical columns of W) stay equal, as they do in a real kernel.

Integer, bool, complex and half-precision results, calls with `out=`, and all other ops pass
through. Gradients are those of the unperturbed op: a moved result is returned as
`r + (new - r)` with the change a constant. Torch keeps the mode stack per thread: `install`
enters the mode in the calling thread and in every thread started afterwards.
"""
import hashlib, threading
import numpy as np
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

T = torch.Tensor
F32, F64 = torch.float32, torch.float64

def matmul_like():
    "Matrix products: BLAS kernels whose blocking and summation order depend on the CPU."
    return [torch.matmul, T.matmul, T.__matmul__, T.__rmatmul__, torch.mm, T.mm, torch.bmm,
            T.bmm, torch.addmm, T.addmm, torch.addmv, T.addmv, torch.mv, T.mv, torch.dot, T.dot,
            torch.inner, torch.einsum, F.linear, torch.baddbmm, T.baddbmm, torch.tensordot]

def final_rounding():
    "Sums followed by one correctly rounded division or square root."
    return [torch.mean, T.mean, torch.nanmean, T.nanmean, torch.norm, T.norm,
            torch.linalg.vector_norm, torch.linalg.norm, torch.linalg.matrix_norm, F.mse_loss,
            F.l1_loss]

def plain_sums():
    "Reductions made of additions or multiplications alone."
    return [torch.sum, T.sum, torch.nansum, T.nansum, torch.cumsum, T.cumsum, torch.prod, T.prod,
            torch.trace, T.trace]

def other_reductions():
    "Reductions whose terms are rounded themselves (exp, log, Welford updates); LAPACK routines."
    return [torch.std, T.std, torch.var, T.var, torch.logsumexp, T.logsumexp, torch.softmax,
            T.softmax, torch.log_softmax, T.log_softmax, F.softmax, F.log_softmax,
            F.cross_entropy, F.nll_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits,
            torch.linalg.eigvalsh, torch.linalg.lstsq, torch.linalg.solve, torch.linalg.inv,
            torch.cdist]

def kernel_name(f):
    "`x.sum()` and `torch.sum(x)` run one kernel, so they share a name."
    return getattr(f, '__name__', repr(f)).strip('_').replace('rmatmul', 'matmul')

OPS = matmul_like() + final_rounding() + plain_sums() + other_reductions()
NAMES = {f: kernel_name(f) for f in OPS}
# float32's reference already sees whether a plain sum is exact; a mean's last division it cannot
ORDER_FREE_IF_INTEGER = {F32: frozenset(final_rounding()),
                         F64: frozenset(matmul_like() + final_rounding() + plain_sums())}
BY_DIMS = {(2, 2): 'mm', (2, 1): 'mv', (1, 1): 'dot', (3, 3): 'bmm'}
TOP, NEXT = np.uint64(1 << 63), np.uint64(1 << 62)       # the two coins: move?, and up? (float64)
NEXT_BIT = np.uint64(62)
MIX = [np.uint64(c) for c in (0x9E3779B97F4A7C15, 30, 0xBF58476D1CE4E5B9, 27, 0x94D049BB133111EB,
                              31)]

def op_name(name, args):
    "The kernel's name: `a @ b` runs mm on matrices, mv on a matrix and a vector, dot on vectors."
    if name == 'matmul' and len(args) == 2 and isinstance(args[0], T) and isinstance(args[1], T):
        return BY_DIMS.get((args[0].dim(), args[1].dim()), name)
    return name

def leaves(obj):
    "The arguments' leaves in order; einsum and friends take lists of tensors; kwargs sorted."
    if type(obj) is tuple and all(isinstance(x, T) for x in obj):
        return list(obj)
    if isinstance(obj, (list, tuple)):
        return [y for x in obj for y in leaves(x)]
    if isinstance(obj, dict):
        return [y for k in sorted(obj) for y in (k, *leaves(obj[k]))]
    return [obj]

def feed(h, leaf):
    "Add one argument to the hash: a tensor by shape, strides, dtype and bytes, the rest by repr."
    if not isinstance(leaf, T):
        h.update(repr(leaf).encode())
        return
    h.update(f'{tuple(leaf.shape)}{leaf.stride()}{leaf.dtype}'.encode())
    h.update(np.ascontiguousarray(leaf.detach().numpy()))

def seed(name, args, kwargs):
    "A 64-bit hash of the op and all its inputs: the same op on the same inputs, the same seed."
    h = hashlib.blake2b(op_name(name, args).encode(), digest_size=8)
    for leaf in leaves((args, kwargs)):
        feed(h, leaf)
    return np.uint64(int.from_bytes(h.digest(), 'little'))

def mix(z):
    "splitmix64's finaliser on a uint64 array: each input bit flips about half the output bits."
    add, s1, m1, s2, m2, s3 = MIX
    z = z + add
    z = (z ^ (z >> s1)) * m1
    z = (z ^ (z >> s2)) * m2
    return z ^ (z >> s3)

def coins(s, a, up=None):
    """Random bits per element of a (flat), from the seed s, the element's value and its side of
    the reference (the reference's own last bits may differ between equal columns: not used)."""
    key = a.view(np.uint32 if a.dtype == np.float32 else np.uint64).astype(np.uint64)
    if up is not None:
        key = key ^ up.astype(np.uint64) << NEXT_BIT
    return mix(key ^ s)

def readable(x):
    "x as a numpy array sharing its memory; None for a tensor numpy cannot read (sparse, wrapped)."
    try:
        return x.detach().numpy()
    except (RuntimeError, TypeError):
        return None

def order_free(func, xs, dtype):
    "True when every partial sum of this op is exact: integer-valued inputs of bounded size."
    if func not in ORDER_FREE_IF_INTEGER[dtype]:
        return False
    bound, biggest = 4.0, 1
    for x in xs:
        a = readable(x)
        if a is None or x.is_floating_point() and not np.array_equal(a, np.trunc(a)):
            return False
        bound *= 1 + float(np.abs(a).max(initial=0))
        biggest = max(biggest, a.size)
    return bound * biggest < 2.0 ** (24 if dtype == F32 else 53)

def widen(v):
    "A float32 argument as a float64 copy, for the reference (lists and dicts element-wise)."
    if isinstance(v, T):
        return v.double() if v.dtype == F32 else v
    if isinstance(v, (list, tuple)):
        return type(v)(widen(x) for x in v)
    if isinstance(v, dict):
        return {k: widen(x) for k, x in v.items()}
    return F64 if v is F32 else v

def reference(func, args, kwargs):
    "The op on float64 copies of its float32 inputs: flat arrays (None where it gives no tensor)."
    with torch.no_grad():
        ref = func(*widen(args), **widen(kwargs))
    refs = ref if isinstance(ref, tuple) else [ref]
    return [x.numpy().reshape(-1) if isinstance(x, T) else None for x in refs]

def candidates(a, ref):
    "Elements that may move: the inexact ones when there is a reference, else finite nonzero ones."
    if ref is None:
        return (a != 0) & np.isfinite(a)
    return (a != ref) & np.isfinite(a)

def moved(a, ref, may, s):
    "a (flat) with about half the elements `may` allows moved one ulp: towards ref, or by a coin."
    if ref is None:
        bits = coins(s, a)
        up = (bits & NEXT) != 0
    else:
        up = ref > a
        bits = coins(s, a, up)
    step = np.nextafter(a, np.where(up, np.inf, -np.inf).astype(a.dtype))
    return np.where(may & (bits >= TOP), step, a)

def as_result(r, new, a):
    "The new values (flat) as a tensor shaped like r; under autograd the change is a constant."
    if r.requires_grad:
        return r + torch.from_numpy((new - a).reshape(r.shape))
    return torch.from_numpy(new.reshape(r.shape))

def array(r):
    "A float32 or float64 result as a flat numpy array; None for any other result."
    a = readable(r) if isinstance(r, T) and r.dtype in (F32, F64) else None
    return None if a is None else a.reshape(-1)

def perturb(name, func, args, kwargs, r):
    "The op's result r (a tensor or a tuple of them) rounded one ulp differently where inexact."
    outs = list(r) if isinstance(r, tuple) else [r]
    arrays = [array(o) for o in outs]
    dtypes = {o.dtype for o, a in zip(outs, arrays) if a is not None}
    if len(dtypes) != 1:
        return r
    dtype = dtypes.pop()
    refs = reference(func, args, kwargs) if dtype == F32 else [None] * len(outs)
    mays = [None if a is None or dtype == F32 and (b is None or b.size != a.size)
            else candidates(a, b) for a, b in zip(arrays, refs)]
    if not any(m is not None and m.any() for m in mays):
        return r
    if order_free(func, [x for x in leaves((args, kwargs)) if isinstance(x, T)], dtype):
        return r
    s = seed(name, args, kwargs)
    new = [o if m is None else as_result(o, moved(a, b, m, s), a)
           for o, a, b, m in zip(outs, arrays, refs, mays)]
    return type(r)(new) if isinstance(r, tuple) else new[0]

class UlpMode(TorchFunctionMode):
    "Rounds the results of the ops in NAMES one ulp differently where inexact (see the module)."
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        r = func(*args, **kwargs)         # the mode is off inside its own handler: no recursion
        name = NAMES.get(func)
        if name is None or 'out' in kwargs:
            return r
        if func is T.__rmatmul__:         # b.__rmatmul__(a) is a @ b: what the kernel sees
            func, args = torch.matmul, (args[1], args[0], *args[2:])
        return perturb(name, func, args, kwargs, r)

def run_in_mode(run):
    "Thread.run entering the mode first."
    def wrapped(self):
        with UlpMode():
            return run(self)
    wrapped.ulp_mode = True
    return wrapped

def install():
    "Enter the mode in this thread and in every thread started from now on."
    UlpMode().__enter__()
    if not getattr(threading.Thread.run, 'ulp_mode', False):
        threading.Thread.run = run_in_mode(threading.Thread.run)
