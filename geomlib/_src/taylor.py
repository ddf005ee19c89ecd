r"""Second-order forward mode ("Taylor mode") for a function of two variables.

For g: R^2 -> R, forward-over-forward autodiff (``jacfwd(jacfwd(g))``) carries nine
values through every operation: the primal, two tangents, the outer pass's two tangents
of the primal (copies of the first two) and four second-order tangents (g_ab twice).
Here every intermediate x of g carries only its six distinct Taylor coefficients

.. math:: x,\; x_a,\; x_b,\; x_{aa},\; x_{ab},\; x_{bb},

pushed through each operation y = F(x) by the chain rule to second order, with J the
Jacobian and H the second derivative (a symmetric bilinear map) of F at x:

.. math:: y_k = J x_k, \qquad y_{kl} = J x_{kl} + H[x_k, x_l] \qquad (k, l \in \{a, b\}).

Both terms come from JAX's own ``jvp`` of the operation, so derivative rules (custom_jvp
ones included) are exactly JAX's. The rules, by kind of operation (an input is *moving*
when it depends on (a, b)):

- elementwise with one moving input (tanh, softplus, ...): phi' and phi'' once on the
  primal, then y_k = phi' x_k, y_kl = phi' x_kl + phi'' x_k x_l;
- linear in its moving inputs (sums, reshapes, a dense layer with constant weights): J on
  each stream (H = 0); a layer's matmul keeps the points as rows, W x computed as x W^T;
- bilinear with both inputs moving (products): the product rule to second order;
- anything else: J on each stream plus H[x_k, x_l] from a jvp of a jvp (exact, not fast);
- calls of jitted functions are followed inside, and ``lax.scan`` runs the rules inside a
  scan whose carry also holds the carries' streams.

A dense layer costs 6 matmuls per point instead of forward-over-forward's 9. Values that do
not depend on (a, b) carry no streams, and streams known to be zero are skipped, so the
plane's directions enter the first layer once per batch, not once per point.

**The second-order adjoint** (:func:`value_grad_hess_adjoint`) needs 4 matmuls per dense
layer instead of 6. The three second-order streams obey the same linear recursion,
y_kl = J x_kl + s_kl with source s_kl = H[x_k, x_l], so the output's g_kl is a sum over
operations n of lambda_n . s_kl,n, where lambda_n is the ordinary adjoint (the gradient of
the output with respect to operation n's output). One forward pass carries x, x_a, x_b; one
reverse sweep carries lambda. The same interpreter builds it: it carries one second-order
stream z with the weighted source sum_kl w_kl s_kl, so that z_out = sum_kl w_kl g_kl is
linear in w = (w_aa, w_ab, w_bb), and ``jax.linear_transpose`` of w -> z_out gives the three
g_kl in one reverse sweep. Scan bodies are rematerialized (``jax.checkpoint``): the sweep
stores each step's carry streams and recomputes the elementwise sources from them, instead
of storing every intermediate.
"""

from __future__ import annotations

import functools
import operator
from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax.extend import core as jex

from geomlib._src.core.dtypes import is_inexact

# Operations linear in their (floating-point) inputs: H = 0.
_LINEAR = frozenset({
    "add", "add_any", "sub", "neg", "reshape", "broadcast_in_dim", "squeeze", "expand_dims",
    "transpose", "slice", "dynamic_slice", "dynamic_update_slice", "gather", "concatenate", "pad",
    "rev", "reduce_sum", "cumsum", "convert_element_type", "copy", "copy_p", "select_n", "real",
    "imag", "complex", "conj", "reduce_precision",
})
# Linear in each operand separately.
_BILINEAR = frozenset({"mul", "dot_general", "conv_general_dilated"})
# Elementwise operations: with one input depending on (a, b), y = phi(x) entry by entry.
_ELEMENTWISE = frozenset({
    "abs", "acos", "acosh", "add", "and", "asin", "asinh", "atan", "atan2", "atanh", "cbrt", "clamp",
    "convert_element_type", "copy", "cos", "cosh", "div", "eq", "erf", "erf_inv", "erfc", "exp", "exp2",
    "expm1", "ge", "gt", "integer_pow", "is_finite", "le", "lgamma", "digamma", "log", "log1p", "logistic",
    "lt", "max", "min", "mul", "ne", "neg", "not", "or", "pow", "rem", "round", "floor", "ceil", "rsqrt",
    "select_n", "sign", "sin", "sinh", "sqrt", "square", "stop_gradient", "sub", "tan", "tanh",
})
_CALLS = frozenset({"pjit", "jit"})
# Steps per iteration of the scans this mode builds (unless the original scan set its own):
# with six times the state, unrolling lets XLA overlap one step's stream matmuls with the
# next step's; 5 is the fastest of 1, 3, 5 and 10 on the LCA benchmark (about 12% over 1).
_SCAN_UNROLL = 5


def sub_jaxprs(params):
    """The jaxprs in an equation's parameters (a call's body, a loop's body, ...)."""
    for value in params.values():
        for item in value if isinstance(value, (tuple, list)) else (value,):
            if hasattr(item, "eqns"):
                yield item
            elif hasattr(getattr(item, "jaxpr", None), "eqns"):  # a ClosedJaxpr
                yield item.jaxpr


def _all_elementwise(jaxpr) -> bool:
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name in _CALLS or name == "custom_jvp_call":
            if not all(map(_all_elementwise, sub_jaxprs(eqn.params))):
                return False
        elif name not in _ELEMENTWISE:
            return False
    return True


def _is_unary_elementwise(eqn, moving: list[bool]) -> bool:
    """One differentiated input x, one output of x's shape, computed entry by entry."""
    if sum(moving) != 1 or len(eqn.outvars) != 1:
        return False
    x = eqn.invars[moving.index(True)]
    if eqn.outvars[0].aval.shape != x.aval.shape or not is_inexact(eqn.outvars[0].aval):
        return False
    name = eqn.primitive.name
    if name in _CALLS or name == "custom_jvp_call":
        return all(map(_all_elementwise, sub_jaxprs(eqn.params)))
    return name in _ELEMENTWISE


# Streams of one value: a tuple (x_a, x_b, x_aa, x_ab, x_bb), each an array of the value's
# shape and dtype or None (known to be zero); None for the whole tuple: the value does not
# depend on (a, b). Separate arrays, not one stacked array, so that XLA fuses each rule's
# elementwise work into one loop without concatenations. The second-order streams (kl) =
# (aa, ab, bb) have first-order factors k = (a, a, b) and l = (a, b, b).
_K = (0, 0, 1)
_L = (0, 1, 1)
Streams = tuple
# The second-order streams' sources: stream i carries sum_kl W[i][kl] x_kl, each weight None
# (zero), the int 1 or an array. Taylor mode: three unit streams (aa, ab, bb); the adjoint:
# one stream weighted by the traced (w_aa, w_ab, w_bb). The streams tuple has 2 + len(W)
# entries.
Weights = tuple
TAYLOR = ((1, None, None), (None, 1, None), (None, None, 1))


def _weighted(wi: tuple, terms: list):
    """sum_kl wi[kl] terms[kl], skipping zero weights and None terms (None if nothing left)."""
    out = []
    for w, t in zip(wi, terms):
        if w is None or t is None:
            continue
        out.append(t if isinstance(w, int) and w == 1 else w * t)
    return _add(*out)


def _add(*terms):
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


def _mul(*factors):
    return None if any(f is None for f in factors) else functools.reduce(operator.mul, factors)


def _full(streams: Streams | None, x, n: int) -> list:
    """All n streams as arrays (zeros for None; all zeros when ``streams`` is None)."""
    return [jnp.zeros_like(x) if t is None else t for t in (streams or (None,) * n)]


def _binder(eqn, x0: list, idx: list[int]) -> Callable:
    """F(*moving inputs) -> list of outputs, with the other inputs held at their values."""
    params = eqn.primitive.get_bind_params(eqn.params)

    def F(*xs):
        args = list(x0)
        for i, x in zip(idx, xs):
            args[i] = x
        out = eqn.primitive.bind(*args, **params)
        return list(out) if eqn.primitive.multiple_results else [out]

    return F


def _unary_rule(F: Callable, x: jax.Array, t: Streams, W: Weights, linear: bool) -> tuple[jax.Array, Streams]:
    """y = phi(x) entry by entry: y_k = phi' x_k, y_kl = phi' x_kl + phi'' x_k x_l.

    ``linear`` (phi'' = 0: x * c, x - c, ...) drops the source term for the adjoint: JAX
    cannot see that phi'' is zero, and the reverse sweep would recompute the streams'
    matmuls to multiply them by it. Taylor mode keeps it (without it XLA fused the LCA step
    worse: about 5% slower in our runs).
    """
    phi = lambda z: F(z)[0]  # noqa: E731
    ones = jnp.ones_like(x)
    (y, d1), (_, d2) = jax.jvp(lambda z: jax.jvp(phi, (z,), (ones,)), (x,), (ones,))
    first = tuple(_mul(d1, tk) for tk in t[:2])
    if linear and W is not TAYLOR:
        return y, first + tuple(_mul(d1, z) for z in t[2:])
    prods = [_mul(t[k], t[l]) for k, l in zip(_K, _L)]
    second = tuple(_add(_mul(d1, t[2 + i]), _mul(d2, _weighted(wi, prods))) for i, wi in enumerate(W))
    return y, first + second


def _dot_moving_rhs(eqn, x0: list) -> Callable:
    """dot_general(W, x) for a constant W, computed as dot_general(x, W) then transposed.

    Same numbers; under ``vmap`` over points, x's point axis stays leading (row-major
    (points, features) @ W^T), which spares XLA a transpose of every stream around the
    matmul.
    """
    params = eqn.primitive.get_bind_params(eqn.params)
    (lc, rc), (lb, rb) = params["dimension_numbers"]
    w = x0[0]
    nb = len(lb)
    nl = w.ndim - len(lc) - nb
    nr = eqn.invars[1].aval.ndim - len(rc) - nb
    perm = (*range(nb), *(nb + nr + i for i in range(nl)), *(nb + i for i in range(nr)))

    def F(x):
        y = jax.lax.dot_general(x, w, ((rc, lc), (rb, lb)), precision=params.get("precision"),
                                preferred_element_type=params.get("preferred_element_type"))
        return [jnp.transpose(y, perm)]

    return F


def _linear_part(F: Callable, primal: list, tangents: list[Streams]):
    """y = F(x) and J x_s for each stream s (None where every input's stream s is None).

    One call per stream: for the LCA, the copies that stacking the streams into one larger
    matmul needs cost more than the larger matmul saves.
    """
    y, lin = jax.linearize(lambda *xs: tuple(F(*xs)), *primal)
    n = len(tangents[0])
    live = [s for s in range(n) if any(t[s] is not None for t in tangents)]
    args = {s: [jnp.zeros_like(x) if t[s] is None else t[s] for x, t in zip(primal, tangents)] for s in live}
    done = {s: lin(*args[s]) for s in live}
    per_stream = [done.get(s) for s in range(n)]
    outs = [tuple(None if ps is None else ps[j] for ps in per_stream) for j in range(len(y))]
    return list(y), outs


def _bilinear_rule(F: Callable, x, y, tx: Streams, ty: Streams, W: Weights) -> tuple[jax.Array, Streams]:
    """F(x, y) linear in each: z_kl = F(x_kl, y) + F(x, y_kl) + F(x_k, y_l) + F(x_l, y_k)."""
    def G(p, q):
        return None if p is None or q is None else F(p, q)[0]

    z = G(x, y)
    first = tuple(_add(G(tx[s], y), G(x, ty[s])) for s in range(2))
    cross = [_add(G(tx[k], ty[l]), G(tx[l], ty[k])) for k, l in zip(_K, _L)]
    second = tuple(_add(G(tx[2 + i], y), G(x, ty[2 + i]), _weighted(wi, cross)) for i, wi in enumerate(W))
    return z, first + second


def _generic_rule(F: Callable, primal: list, tangents: list[Streams], linear: bool, W: Weights):
    """Any operation: J on every stream, plus the weighted H[x_k, x_l] by jvps of jvps."""
    y, streams = _linear_part(F, primal, tangents)
    if linear:
        return y, streams
    full = [_full(t, x, 2 + len(W)) for t, x in zip(tangents, primal)]
    hess = []  # per (k, l): H[x_k, x_l] for each output, or None
    for j, (k, l) in enumerate(zip(_K, _L)):
        if all(t[k] is None for t in tangents) or all(t[l] is None for t in tangents) \
                or all(wi[j] is None for wi in W):
            hess.append([None] * len(y))
            continue
        tk = tuple(f[k] for f in full)
        tl = tuple(f[l] for f in full)
        hess.append(jax.jvp(lambda *x: jax.jvp(lambda *z: tuple(F(*z)), x, tk)[1], tuple(primal), tl)[1])
    return y, [st[:2] + tuple(_add(st[2 + i], _weighted(wi, [h[o] for h in hess])) for i, wi in enumerate(W))
               for o, st in enumerate(streams)]


def _moving_outputs(jaxpr, moving: list[bool]) -> list[bool]:
    """Which outputs of jaxpr may depend on the moving inputs (conservative: float outputs of
    any equation with a moving input)."""
    dep = {v: m for v, m in zip(jaxpr.invars, moving)}

    def read(v):
        return False if isinstance(v, jex.Literal) else dep.get(v, False)

    for eqn in jaxpr.eqns:
        m = any(map(read, eqn.invars))
        for v in eqn.outvars:
            dep[v] = m and is_inexact(v.aval)
    return [read(v) for v in jaxpr.outvars]


def _scan_rule(eqn, x0: list, ts: list, W: Weights) -> tuple[list, list]:
    """lax.scan: the body's rules inside a scan whose carry also holds the carries' streams.

    For the adjoint, the body is rematerialized: its reverse sweep stores the carry streams
    of each step (3 arrays) and recomputes the elementwise sources from them.
    """
    p = eqn.params
    body, nc, nk = p["jaxpr"], p["num_consts"], p["num_carry"]
    consts, init, xs = x0[:nc], x0[nc:nc + nk], x0[nc + nk:]
    t_consts, t_init, t_xs = ts[:nc], ts[nc:nc + nk], ts[nc + nk:]
    carry_moving = [t is not None for t in t_init]
    while True:  # a carry moves if its initial value does or one step makes it
        out = _moving_outputs(body.jaxpr, [t is not None for t in t_consts] + carry_moving
                              + [t is not None for t in t_xs])
        new = [a or b for a, b in zip(carry_moving, out[:nk])]
        if new == carry_moving:
            break
        carry_moving = new
    ys_moving = out[nk:]

    def fill(values, streams, moving):
        return [_full(t, x, 2 + len(W)) if m else None for x, t, m in zip(values, streams, moving)]

    xs_moving = [t is not None for t in t_xs]
    tx_scan = [_full(t, x, 2 + len(W)) for x, t in zip(xs, t_xs) if t is not None]

    def step(carry, x):
        c, tc = carry
        xv, tx = x
        tx_iter = iter(tx)
        tx_full = [tuple(next(tx_iter)) if m else None for m in xs_moving]
        outs, streams = _eval(body.jaxpr, body.consts, [*consts, *c, *xv],
                              [*t_consts, *(None if t is None else tuple(t) for t in tc), *tx_full], W)
        return (outs[:nk], fill(outs[:nk], streams[:nk], carry_moving)), \
            (outs[nk:], fill(outs[nk:], streams[nk:], ys_moving))

    if W is not TAYLOR:
        step = jax.checkpoint(step, prevent_cse=False)
    unroll = _SCAN_UNROLL if p["unroll"] == 1 else p["unroll"]
    (c, tc), (ys, ty) = jax.lax.scan(step, (list(init), fill(init, t_init, carry_moving)), (list(xs), tx_scan),
                                     length=p["length"], reverse=p["reverse"], unroll=unroll)
    return [*c, *ys], [None if t is None else tuple(t) for t in [*tc, *ty]]


def _apply(eqn, x0: list, ts: list, W: Weights) -> tuple[list, list]:
    """The second-order rule for one equation: its outputs and their streams."""
    moving = [t is not None for t in ts]
    idx = [i for i, m in enumerate(moving) if m]
    primal = [x0[i] for i in idx]
    tangents = [ts[i] for i in idx]
    F = _binder(eqn, x0, idx)
    out_float = [i for i, v in enumerate(eqn.outvars) if is_inexact(v.aval)]
    name = eqn.primitive.name
    if len(out_float) < len(eqn.outvars):  # integer or boolean outputs carry no streams
        outs = F(*primal)
        if not out_float:
            return outs, [None] * len(outs)

        def F_float(*xs):
            o = F(*xs)
            return [o[i] for i in out_float]
    else:
        outs, F_float = [None] * len(eqn.outvars), F
    linear = name in _LINEAR or (name in _BILINEAR and len(idx) == 1) or (name == "div" and idx == [0])
    if _is_unary_elementwise(eqn, moving):
        y, st = _unary_rule(F_float, primal[0], tangents[0], W, linear)
        ys, streams = [y], [st]
    elif name in _BILINEAR and len(idx) == 2:
        y, st = _bilinear_rule(F_float, *primal, *tangents, W)
        ys, streams = [y], [st]
    else:
        if name == "dot_general" and idx == [1]:
            F_float = _dot_moving_rhs(eqn, x0)
        ys, streams = _generic_rule(F_float, primal, tangents, linear, W)
    out_streams: list[Any] = [None] * len(eqn.outvars)
    for j, i in enumerate(out_float):
        st = streams[j]
        outs[i], out_streams[i] = ys[j], (None if all(t is None for t in st) else st)
    return outs, out_streams


def _eval(jaxpr, consts, args: list, arg_streams: list, W: Weights) -> tuple[list, list]:
    env: dict = {}

    def read(v):
        return (v.val, None) if isinstance(v, jex.Literal) else env[v]

    def write(v, x, t):
        env[v] = (x, t)

    for v, c in zip(jaxpr.constvars, consts):
        write(v, c, None)
    for v, x, t in zip(jaxpr.invars, args, arg_streams):
        write(v, x, t)
    for eqn in jaxpr.eqns:
        x0, ts = zip(*map(read, eqn.invars)) if eqn.invars else ((), ())
        x0, ts = list(x0), list(ts)
        if all(t is None for t in ts):
            out = eqn.primitive.bind(*x0, **eqn.primitive.get_bind_params(eqn.params))
            outs = list(out) if eqn.primitive.multiple_results else [out]
            out_streams = [None] * len(outs)
        elif eqn.primitive.name == "scan":
            outs, out_streams = _scan_rule(eqn, x0, ts, W)
        elif eqn.primitive.name in _CALLS:
            closed = eqn.params["jaxpr"]
            outs, out_streams = _eval(closed.jaxpr, closed.consts, x0, ts, W)
        else:
            outs, out_streams = _apply(eqn, x0, ts, W)
        for v, x, t in zip(eqn.outvars, outs, out_streams):
            write(v, x, t)
    return [x for x, _ in map(read, jaxpr.outvars)], [t for _, t in map(read, jaxpr.outvars)]


def _scalar_jaxpr(g: Callable, ab: jax.Array):
    closed = jax.make_jaxpr(g)(ab)
    if len(closed.out_avals) != 1 or closed.out_avals[0].shape != ():
        raise ValueError(f"g: expected a scalar output, got {[a.shape for a in closed.out_avals]}")
    return closed


def _seed(ab: jax.Array, n_second: int) -> Streams:
    return (jnp.array([1, 0], ab.dtype), jnp.array([0, 1], ab.dtype)) + (None,) * n_second


def _hessian(gaa, gab, gbb) -> jax.Array:
    return jnp.stack([jnp.stack([gaa, gab]), jnp.stack([gab, gbb])])


def value_grad_hess(g: Callable[[jax.Array], jax.Array], ab: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Value, gradient and Hessian of a scalar g: R^2 -> R at ``ab`` by second-order forward mode.

    Args:
      g: JAX-traceable, shape ``(2,)`` -> ``()``.
      ab: shape ``(2,)``, floating point.

    Returns:
      value ``()``, gradient ``(2,)``, Hessian ``(2, 2)``.
    """
    closed = _scalar_jaxpr(g, ab)
    (value,), (streams,) = _eval(closed.jaxpr, closed.consts, [ab], [_seed(ab, 3)], TAYLOR)
    ga, gb, gaa, gab, gbb = _full(streams, value, 5)
    return value, jnp.stack([ga, gb]), _hessian(gaa, gab, gbb)


def value_grad_hess_adjoint(
    g: Callable[[jax.Array], jax.Array], ab: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Value, gradient and Hessian of a scalar g: R^2 -> R at ``ab`` by the second-order adjoint.

    A forward pass with the two first-order streams, then one reverse sweep (see the module
    docstring). Not for g with ``while`` loops (JAX cannot transpose them) or ``custom_vjp``.
    Arguments and results as for :func:`value_grad_hess`: g maps shape ``(2,)`` to ``()``;
    returns value ``()``, gradient ``(2,)``, Hessian ``(2, 2)``.
    """
    closed = _scalar_jaxpr(g, ab)

    def weighted_second(w):  # z_out = w_aa g_aa + w_ab g_ab + w_bb g_bb, linear in w
        (value,), (streams,) = _eval(closed.jaxpr, closed.consts, [ab], [_seed(ab, 1)], ((w[0], w[1], w[2]),))
        ga, gb, z = _full(streams, value, 3)
        return z, (value, jnp.stack([ga, gb]))

    w0 = jnp.zeros(3, ab.dtype)
    z, linear, (value, grad) = jax.linearize(weighted_second, w0, has_aux=True)
    (h,) = jax.linear_transpose(linear, w0)(jnp.ones_like(z))
    return value, grad, _hessian(h[0], h[1], h[2])
