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
through. Autograd is untouched: a fresh result is changed where it lies (its grad_fn and version
stay; an op whose backward reads its own output, like norm, then reads the changed one), any
other result is returned as `r + (new - r)` with the change a constant. Only calls made from
Python are seen: the backward pass runs unchanged. Torch keeps the mode stack per thread:
`install` enters the mode in the calling thread and in every thread started afterwards.
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
# per float dtype: the unsigned type of its bits, their number, an odd multiplier, the top bits
U32 = (np.uint32, 32, np.uint32(0x9E3779B1), np.uint32(1 << 31), np.uint32(1 << 30))
U64 = (np.uint64, 64, np.uint64(0x9E3779B97F4A7C15), np.uint64(1 << 63), np.uint64(1 << 62))
HASH = {np.dtype(np.float32): U32, np.dtype(np.uint32): U32,
        np.dtype(np.float64): U64, np.dtype(np.uint64): U64}

def op_name(name, args):
    "The kernel's name: `a @ b` runs mm on matrices, mv on a matrix and a vector, dot on vectors."
    if name == 'matmul' and len(args) == 2 and isinstance(args[0], T) and isinstance(args[1], T):
        return BY_DIMS.get((args[0].dim(), args[1].dim()), name)
    return name

def leaves(args, kwargs):
    "The arguments' leaves in order (einsum and friends take lists of tensors); kwargs sorted."
    out = []
    for x in args:
        if isinstance(x, (list, tuple)):
            out += leaves(x, {})
        else:
            out.append(x)
    for k in sorted(kwargs):
        out += [k, *leaves([kwargs[k]], {})]
    return out

def describe(leaf):
    "An argument's description for the hash: a tensor's shape, strides and dtype, else its repr."
    if isinstance(leaf, T):
        return f'{tuple(leaf.shape)}{leaf.stride()}{leaf.dtype}'
    return repr(leaf)

def seed(name, args, xs):
    "A 64-bit hash of the op and all its inputs xs: the same op on the same inputs, the same seed."
    h = hashlib.blake2b(f'{op_name(name, args)}{[describe(x) for x in xs]}'.encode(), digest_size=8)
    for x in xs:
        if isinstance(x, T):
            h.update(np.ascontiguousarray(x.detach().numpy()))
    return int.from_bytes(h.digest(), 'little')

def coins(s, a):
    """A hash per element of a (flat) from the seed s and the element's value alone: equal elements
    of one call (equal columns of W) get equal coins. Its top bit says move, the next bit up."""
    u, width, m = HASH[a.dtype][:3]
    return (a.view(u) ^ u(s & ((1 << width) - 1))) * m    # multiplying: each bit reaches the top

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
        if a is None or a.dtype.kind == 'c' or a.dtype.kind == 'f' and not np.array_equal(
                a, np.trunc(a)):
            return False
        bound *= 1 + float(np.abs(a).max(initial=0))
        biggest = max(biggest, a.size)
    return bound * biggest < 2.0 ** (24 if dtype == F32 else 53)

def widen(v):
    "A float32 argument as a float64 copy, for the reference (lists and dicts element-wise)."
    if isinstance(v, T):
        return v.detach().double() if v.dtype == F32 else v
    if isinstance(v, (list, tuple)):
        return type(v)(widen(x) for x in v)
    if isinstance(v, dict):
        return {k: widen(x) for k, x in v.items()}
    return F64 if v is F32 else v

def widen_all(args):
    "widen on a call's positional arguments, without recursion when they are all tensors."
    if all(isinstance(x, T) for x in args):
        return [x.detach().double() if x.dtype == F32 else x for x in args]
    return widen(args)

def reference(func, args, kwargs):
    "The op on float64 copies of its float32 inputs: flat arrays (None where it gives no tensor)."
    # detached inputs: nothing is recorded for autograd
    ref = func(*widen_all(args), **(widen(kwargs) if kwargs else {}))
    refs = ref if isinstance(ref, tuple) else [ref]
    return [x.numpy().reshape(-1) if isinstance(x, T) else None for x in refs]

def candidates(a, ref):
    "Elements that may move: the inexact ones when there is a reference, else finite nonzero ones."
    return (a != (0 if ref is None else ref)) & np.isfinite(a)

def nudge(out, a, ref, may, s):
    "Into out (flat): a with about half the elements `may` allows one ulp off, towards ref or not."
    z = coins(s, a)
    top, second = HASH[a.dtype][3:]
    up = ref > a if ref is not None else (z & second) != 0
    inf = a.dtype.type(np.inf)
    np.copyto(out, np.nextafter(a, np.where(up, inf, -inf)), where=may & (z >= top))

def moved(r, a, ref, may, s, xs):
    """r rounded one ulp differently where `may` and the coins say. A fresh contiguous result is
    changed where it lies (autograd's graph, grad_fn and version stay as they are); a view, or an
    input handed back, is copied first and the change added as a constant."""
    if r._base is None and r.is_contiguous() and not any(r is x for x in xs):
        nudge(a, a, ref, may, s)
        return r
    new = a.copy()
    nudge(new, a, ref, may, s)
    if r.requires_grad:
        return r + torch.from_numpy((new - a).reshape(r.shape))
    return torch.from_numpy(new.reshape(r.shape))

def array(r):
    "A float32 or float64 result as a flat numpy array (a view when r is contiguous), or None."
    a = readable(r) if isinstance(r, T) and r.dtype in (F32, F64) else None
    return None if a is None else a.reshape(-1)

def sums_exact(func, dtype, xs):
    "True when the op's integer-valued inputs make every partial sum exact (see order_free)."
    return func in ORDER_FREE_IF_INTEGER[dtype] and order_free(
        func, [x for x in xs if isinstance(x, T)], dtype)

def perturb(name, func, args, kwargs, r):
    "The op's result r rounded one ulp differently where inexact (a tuple: field by field)."
    if isinstance(r, tuple):
        return perturb_fields(name, func, args, kwargs, r)
    a = array(r)
    if a is None:
        return r
    ref = reference(func, args, kwargs)[0] if r.dtype == F32 else None
    if r.dtype == F32 and (ref is None or ref.size != a.size):
        return r
    may = candidates(a, ref)
    if not may.any():
        return r
    xs = leaves(args, kwargs)
    if sums_exact(func, r.dtype, xs):
        return r
    return moved(r, a, ref, may, seed(name, args, xs), xs)

def perturb_fields(name, func, args, kwargs, r):
    "perturb for an op returning a tuple (lstsq): each float field of one dtype, one seed."
    arrays = [array(o) for o in r]
    dtypes = {o.dtype for o, a in zip(r, arrays) if a is not None}
    if len(dtypes) != 1:
        return r
    dtype = dtypes.pop()
    refs = reference(func, args, kwargs) if dtype == F32 else [None] * len(r)
    mays = [None if a is None or dtype == F32 and (b is None or b.size != a.size)
            else candidates(a, b) for a, b in zip(arrays, refs)]
    xs = leaves(args, kwargs)
    if not any(m is not None and m.any() for m in mays) or sums_exact(func, dtype, xs):
        return r
    s = seed(name, args, xs)
    return type(r)([o if m is None else moved(o, a, b, m, s, xs)
                    for o, a, b, m in zip(r, arrays, refs, mays)])

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
