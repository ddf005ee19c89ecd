"""The contour-bend kernel: one plane's bend (edges, extent, crossings, fit), ``vmap``-ed
over a flat batch of planes and evaluated in fixed-size chunks (compiled once)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from geomlib._src.planes import Plane
from geomlib._src.survey.roots import fit_parabola, illinois, oriented, slopes

# Crossings with a > -SIDE_TOL * (amax - amin) count as on the positive side: a contour
# lying exactly on the a = 0 line (a linear neuron at level 0.5) is kept despite rounding.
SIDE_TOL = 1e-6


def check_planes(planes) -> Plane:
    """``planes`` if it is a (possibly batched) :class:`Plane`, else a ValueError naming it."""
    if not isinstance(planes, Plane):
        raise ValueError(f"planes: expected a geomlib.Plane (possibly batched), got {type(planes).__name__}")
    shapes = {jnp.shape(planes.origin), jnp.shape(planes.u), jnp.shape(planes.v)}
    if len(shapes) != 1 or jnp.ndim(planes.u) < 1:
        raise ValueError(f"planes: expected origin, u and v of one shape (..., D), got {sorted(shapes)}")
    return planes


def _bend_one(f, p: Plane, level, *, a_range, b_range, n_b, n_edge, iterations, exit_iterations, normalize,
              positive_side, weighting):
    """One plane's bend: the outputs of :func:`run_plane_chunks` for one plane."""
    (amin, amax), (bmin, bmax) = a_range, b_range
    dt = p.u.dtype

    def g(a, b):  # responses at the points (a_k, b_k)
        return jax.vmap(lambda ai, bi: f(p.origin + ai * p.u + bi * p.v))(a, b)

    def edges(b):  # g on the left and right edges at rows b, in one batch
        n = b.shape[0]
        both = g(jnp.concatenate([jnp.full((n,), amin, dt), jnp.full((n,), amax, dt)]), jnp.concatenate([b, b]))
        return both[:n], both[n:]

    target, lo, hi, found, b_start, b_end = _contour_extent(g, edges, level, a_range, b_range, n_edge,
                                                            exit_iterations, normalize, dt)
    root, bs, ok, qw = _crossings(g, edges, target, found, b_start, b_end, a_range, n_b, iterations,
                                  positive_side, dt)
    w = qw
    if weighting == "arclength":
        w = qw * (1 + slopes(jnp.where(ok, root, 0.0), bs, ok))
    c0, c1, c2, n_valid = fit_parabola(root, bs, ok, max(abs(bmin), abs(bmax)), w)
    points = jnp.stack([root, bs], axis=-1)
    return c2, c0, c1, n_valid, target, lo, hi, points


def _contour_extent(g, edges, level, a_range, b_range, n_edge, exit_iterations, normalize, dt):
    """Pass 1: both vertical edges at n_edge evenly spaced rows -> range (lo, hi), the
    level ``target``, whether a contour crosses the window, and its b-extent."""
    (amin, amax), (bmin, bmax) = a_range, b_range
    be = jnp.linspace(bmin, bmax, n_edge, dtype=dt)
    g_left, g_right = edges(be)
    lo = jnp.minimum(jnp.min(g_left), jnp.min(g_right))
    hi = jnp.maximum(jnp.max(g_left), jnp.max(g_right))
    if normalize:
        target = lo + level * (hi - lo)
        flat = ~(hi > lo)
    else:
        target = jnp.asarray(level, dt)
        flat = jnp.zeros((), bool)
    fl, fr = g_left - target, g_right - target
    straddle = (fl < 0) != (fr < 0)
    found = jnp.any(straddle) & ~flat
    j0 = jnp.argmax(straddle)  # first and last rows where the contour crosses the window
    j1 = n_edge - 1 - jnp.argmax(straddle[::-1])

    # Where the contour leaves the window through a vertical edge between two edge rows,
    # locate that exit along the edge (Illinois in b, both exits batched).
    def exit_bracket(j_in, j_out):
        right = (fr[j_in] < 0) != (fr[j_out] < 0)  # else it leaves through the left edge
        fe = jnp.where(right, fr, fl)
        return jnp.where(right, amax, amin), be[j_out], be[j_in], fe[j_out], fe[j_in]

    j_before = jnp.maximum(j0 - 1, 0)
    j_after = jnp.minimum(j1 + 1, n_edge - 1)
    e0, e1 = exit_bracket(j0, j_before), exit_bracket(j1, j_after)
    a_exit = jnp.stack([e0[0], e1[0]]).astype(dt)
    x0, x1, f0, f1 = oriented(*(jnp.stack([u0, u1]) for u0, u1 in zip(e0[1:], e1[1:])))
    b_exit = illinois(lambda b: g(a_exit, b) - target, x0, x1, f0, f1, exit_iterations)
    b_start = jnp.where(j0 > 0, b_exit[0], bmin)
    b_end = jnp.where(j1 < n_edge - 1, b_exit[1], bmax)
    return target, lo, hi, found, b_start, b_end


def _crossings(g, edges, target, found, b_start, b_end, a_range, n_b, iterations, positive_side, dt):
    """Pass 2: Gauss-Legendre rows over the contour's b-extent; the crossing along a in
    each. Returns the crossings' a (NaN where none), the rows b, which rows have one, and
    the rows' quadrature weights."""
    amin, amax = a_range
    xg, wg = np.polynomial.legendre.leggauss(n_b)
    half = 0.5 * (b_end - b_start)
    bs = 0.5 * (b_start + b_end) + half * jnp.asarray(xg, dt)
    qw = half * jnp.asarray(wg, dt)
    ga, gb = edges(bs)
    ga, gb = ga - target, gb - target
    bracketed = (ga < 0) != (gb < 0)
    x0, x1, f0, f1 = oriented(jnp.full((n_b,), amin, dt), jnp.full((n_b,), amax, dt), ga, gb)
    root = illinois(lambda a: g(a, bs) - target, x0, x1, f0, f1, iterations)
    ok = bracketed & found
    if positive_side:
        ok = ok & (root > -SIDE_TOL * (amax - amin))
    root = jnp.where(ok, root, jnp.nan)
    return root, bs, ok, qw


@functools.partial(jax.jit, static_argnames=("treedef", "batched", "a_range", "b_range", "n_b", "n_edge",
                                             "iterations", "exit_iterations", "normalize", "positive_side",
                                             "weighting"))
def _bend_batch(leaves, planes, level, *, treedef, batched, a_range, b_range, n_b, n_edge, iterations,
                exit_iterations, normalize, positive_side, weighting):
    """Bend of a flat batch of planes (P, D); leaves marked ``batched`` have a leading P axis."""

    def one(plane_leaves, p):
        f = jax.tree_util.tree_unflatten(treedef, plane_leaves)
        return _bend_one(f, p, level, a_range=a_range, b_range=b_range, n_b=n_b, n_edge=n_edge,
                         iterations=iterations, exit_iterations=exit_iterations, normalize=normalize,
                         positive_side=positive_side, weighting=weighting)

    in_axes = ([0 if m else None for m in batched], 0)
    return jax.vmap(one, in_axes=in_axes)(list(leaves), planes)


def flat_planes(planes: Plane) -> tuple[Plane, tuple[int, ...]]:
    """The planes of batch shape ``S`` as a flat batch ``(P, D)``, and ``S``."""
    shape = jnp.shape(planes.u)[:-1]
    d = jnp.shape(planes.u)[-1]
    return Plane(*(jnp.reshape(x, (-1, d)) for x in planes)), shape


def _pad(x, n: int):
    """Pad the leading axis of array x to length n by repeating its first entry."""
    extra = n - x.shape[0]
    if extra <= 0:
        return x
    return jnp.concatenate([x, jnp.broadcast_to(x[:1], (extra,) + x.shape[1:])])


def run_plane_chunks(fp: Partial, batched_leaf_ids, planes: Plane, level, *, chunk_size: int, sharding=None,
                     progress=None, **static) -> list[jax.Array]:
    """The bend kernel over a flat batch of planes ``(P, D)``, in chunks of ``chunk_size``
    planes (the last one padded, so every chunk has the same shape and the kernel compiles once).

    Leaves of ``fp`` whose ``id`` is in ``batched_leaf_ids`` have a leading P axis (one
    value per plane, e.g. the neuron index); ``static`` is :func:`bend_static`'s dict.
    Returns the kernel's outputs (c2, c0, c1, n_valid, level, lo, hi, points), each with a
    leading P axis (:func:`as_bend` makes them a :class:`ContourBend`)."""
    leaves, treedef = jax.tree_util.tree_flatten(fp)
    batched = tuple(id(x) in batched_leaf_ids for x in leaves)
    n = planes.u.shape[0]
    size = min(chunk_size, n)
    if sharding is not None:
        ndev = sharding.mesh.size
        size = -(-size // ndev) * ndev
    outs = []
    for start in range(0, n, size):
        stop = min(start + size, n)
        p = Plane(*(_pad(x[start:stop], size) for x in planes))
        lv = [(_pad(x[start:stop], size) if m else x) for x, m in zip(leaves, batched)]
        if sharding is not None:
            p = jax.device_put(p, sharding)
            lv = [jax.device_put(x, sharding) if m else x for x, m in zip(lv, batched)]
        out = _bend_batch(lv, p, level, treedef=treedef, batched=batched, **static)
        outs.append(jax.tree_util.tree_map(lambda y, k=stop - start: y[:k], out))
        if progress is not None:
            progress(stop - start)
    return [jnp.concatenate(parts) for parts in zip(*outs)]
