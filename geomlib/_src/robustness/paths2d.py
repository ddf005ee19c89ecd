r"""The mechanism in two dimensions: a gradient attack that climbs a response until it reaches a
level, the exact curvature of the iso-response contour at each point of its path, and the
2-D toy of Paiton et al. (2020, figure 6) in which the contours of an LCA unit bend and its
attack path swings toward the unit's preferred direction, beside a ReLU and a linear unit
with the same weights (straight contours, straight paths).

A *one-image response* ``f`` maps an input ``(D,)`` to a number ``()``, as for
:func:`geomlib.plane_geometry` (batched responses ``(B, D) -> (B,)`` are the other
modules' ``response_fn``).
"""

from __future__ import annotations

import functools
from typing import Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial
from jax.typing import ArrayLike

from geomlib._src.attacks import clip_box, unit_vectors
from geomlib._src.core.checks import check_array, check_bool, check_callable, check_float, check_int, check_scalar
from geomlib._src.core.dtypes import float_dtype
from geomlib._src.geometry import plane_geometry
from geomlib._src.lca import dictionary_neuron, dictionary_phi
from geomlib._src.lca_views import TOY_LCA
from geomlib._src.models import pointwise_neuron
from geomlib._src.planes import Plane, plane

__all__ = ["LevelPath", "PlaneAttack", "TOY_LEVEL", "TOY_TEMPERATURE", "ToyAttack", "ascent_to_level",
           "path_contour_curvature", "plane_attacks", "toy_attacks", "toy_circuits"]

#: Softplus temperature of the toy's LCA and ReLU units: smooth, so that the exact curvature
#: is defined and an attack never stands still on a zero gradient.
TOY_TEMPERATURE = 0.03
#: Response the toy's attacks climb to (in input units: the atoms have unit norm).
TOY_LEVEL = 0.5

ONE_IMAGE = "(D,) -> ()"


class LevelPath(NamedTuple):
    """A gradient-ascent path to a response level (:func:`ascent_to_level`).

    Attributes:
      path: ``(steps + 1, D)``, the start point first (only the steps taken).
      reached: the response at the last point is >= the level.
      length: L2 length of the path, sum of its step lengths.
      distance: L2 distance from the start to the last point (<= length; equal for a
        straight path).
    """

    path: np.ndarray
    reached: bool
    length: float
    distance: float


@functools.partial(jax.jit, static_argnames=("max_steps", "clip"))
def _level_ascent(f, x, level, step_size, max_steps, clip):
    value_grad = jax.value_and_grad(f)

    def body(carry, _):
        x_t, done = carry
        value, g = value_grad(x_t)
        done = done | (value >= level) | ~(jnp.linalg.norm(g) > 0)
        x_next = jnp.where(done, x_t, clip_box(x_t + step_size * unit_vectors(g), clip))
        return (x_next, done), (x_next, ~done)

    _, (path, moved) = jax.lax.scan(body, (x, jnp.asarray(False)), None, length=max_steps)
    return jnp.concatenate([x[None], path]), jnp.sum(moved), f(x), f(path[-1]) >= level


def ascent_to_level(f: Callable, x: ArrayLike, level: float, step_size: float, max_steps: int, *,
                    clip: bool = False) -> LevelPath:
    r"""Normalised (L2) gradient ascent on a response until it reaches ``level``.

    .. math:: x^{t+1} = \Pi\big(x^t + \alpha\, \nabla f(x^t) / |\nabla f(x^t)|\big)
       \quad \text{while } f(x^t) < \text{level},

    with :math:`\Pi` the clip to [0, 1] if ``clip``. Each (unclipped) step is along the
    gradient, i.e. orthogonal to the iso-response contour it leaves: where the contours
    bend, the path turns with them. Its length (the attack's effort) and its final distance
    from the start (the perturbation's size) are equal only for a straight path. With ``f``
    the log-probability of a target class this is a targeted L2 attack stopped at a target
    confidence. The path stops early on a zero gradient (``reached`` is then False).

    Args:
      f: one-image response ``(D,) -> ()``, differentiable (bind parameters with
        ``jax.tree_util.Partial`` so that the compiled loop is reused).
      x: start ``(D,)``, real and finite.
      level: the response to reach (finite).
      step_size: alpha > 0, the L2 length of a step.
      max_steps: at most this many steps, an int in [1, 10**6] (static: one compilation each).
      clip: keep the point in [0, 1] (images).

    Returns:
      :class:`LevelPath`; ``path`` holds the steps taken only.

    >>> p = ascent_to_level(lambda x: x @ jnp.array([3.0, 4.0]), jnp.zeros(2), 2.4, 0.25, 10)
    >>> p.path.shape, p.reached, round(p.length, 4), round(p.distance, 4), np.round(p.path[-1], 4).tolist()
    ((3, 2), True, 0.5, 0.5, [0.3, 0.4])
    """
    f = check_callable(f, "f", ONE_IMAGE)
    x = check_array(x, "x")
    if x.ndim != 1:
        raise ValueError(f"x: expected one input of shape (D,), got shape {x.shape}")
    x = jnp.asarray(x, jnp.result_type(x.dtype, float_dtype()))
    out = jax.eval_shape(f, jax.ShapeDtypeStruct(x.shape, x.dtype))
    if getattr(out, "shape", None) != ():
        raise ValueError(f"f: expected a one-image response {ONE_IMAGE}, got output shape "
                         f"{getattr(out, 'shape', type(out).__name__)}")
    level = check_float(level, "level")
    step_size = check_scalar(step_size, "step_size", x.dtype, strict=True)
    max_steps = check_int(max_steps, "max_steps", 1, 10 ** 6)
    path, steps, start_value, reached = _level_ascent(f, x, jnp.asarray(level, x.dtype), step_size, int(max_steps),
                                                      check_bool(clip, "clip"))
    if not np.isfinite(float(start_value)):  # one compiled call: an eager f would compile its loops each time
        raise ValueError("f: expected a finite response at x, got a non-finite value")
    path = np.asarray(path, dtype=np.float64)
    length = float(np.sum(np.linalg.norm(np.diff(path, axis=0), axis=1)))
    return LevelPath(path[:int(steps) + 1], bool(reached), length, float(np.linalg.norm(path[-1] - path[0])))


def path_contour_curvature(f: Callable, path: ArrayLike, in_plane: Plane | None = None) -> np.ndarray:
    r"""Exact curvature of the iso-response contour through each point of a path.

    The contour is the level set of :math:`g(a, b) = f(o + a u + b v)` in the plane
    ``in_plane`` (for D = 2 the input space itself, u = (1, 0), v = (0, 1)), and

    .. math:: \kappa = -\frac{g_{aa} g_b^2 - 2 g_{ab} g_a g_b + g_{bb} g_a^2}{(g_a^2 + g_b^2)^{3/2}}

    by autodiff (:func:`geomlib.plane_geometry`): positive = exo-origin, bending around the
    preferred direction. Points off the plane are projected onto it first.

    Args:
      f: one-image response ``(D,) -> ()``.
      path: ``(T + 1, D)``, real and finite.
      in_plane: a :class:`geomlib.Plane` of the path's D; None only for D = 2.

    Returns:
      ``(T + 1,)`` float64; NaN where the gradient in the plane vanishes. Exactly 0 for a
      linear or pointwise response (straight contours).

    >>> k = path_contour_curvature(lambda x: x[0] - 0.25 * x[1] ** 2, jnp.array([[0.5, 0.0], [1.0, 0.0]]))
    >>> np.round(k, 4).tolist()
    [0.5, 0.5]
    """
    f = check_callable(f, "f", ONE_IMAGE)
    path = check_array(path, "path")
    if path.ndim != 2 or path.shape[0] < 1:
        raise ValueError(f"path: expected shape (T + 1, D), got shape {path.shape}")
    if in_plane is None:
        if path.shape[1] != 2:
            raise ValueError(f"in_plane: expected a geomlib.Plane for a path in D = {path.shape[1]} dimensions "
                             "(None only for D = 2)")
        in_plane = plane(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]))
    if not isinstance(in_plane, Plane):
        raise ValueError(f"in_plane: expected a geomlib.Plane or None, got {type(in_plane).__name__}")
    if in_plane.u.shape[0] != path.shape[1]:
        raise ValueError(f"in_plane: expected a plane in D = {path.shape[1]} (the path's), "
                         f"got D = {in_plane.u.shape[0]}")
    d = jnp.asarray(path, in_plane.u.dtype) - in_plane.origin
    coords = jnp.stack([d @ in_plane.u, d @ in_plane.v], axis=-1)
    return np.asarray(plane_geometry(f, in_plane, coords).curvature, dtype=np.float64)


def _softplus_unit(w, b, temperature, x):
    return pointwise_neuron({"w": w, "b": b}, x, "softplus", temperature=temperature)


def toy_circuits(params: dict, index: int, lam: float, *, temperature: float = TOY_TEMPERATURE,
                 steps: int = TOY_LCA["steps"], eta: float = TOY_LCA["eta"]) -> dict[str, Partial]:
    r"""Unit ``index`` of a dictionary as three circuits with the same weights :math:`\phi_i`.

    * ``"LCA"``: its code :math:`a_i(x)` in the LCA of the whole dictionary (``steps``
      Euler steps of size ``eta``, threshold lambda), with the softplus threshold at
      ``temperature`` (smooth: its exact curvature is defined);
    * ``"ReLU"``: :math:`T \log(1 + e^{(\phi_i \cdot x - \lambda)/T})`, the same threshold
      without the competition (straight contours);
    * ``"linear"``: :math:`\phi_i \cdot x`.

    Args:
      params: ``{"phi": (D, N)}`` with unit-norm columns (e.g. :func:`geomlib.toy_lca_dictionary`).
      index: the unit i, in [0, N).
      lam: threshold lambda >= 0.
      temperature: softplus temperature T > 0 of the LCA and ReLU units.
      steps, eta: the LCA's Euler steps and step size (default :data:`geomlib.TOY_LCA`'s).

    Returns:
      name -> one-image response ``(D,) -> ()`` (``jax.tree_util.Partial``).

    >>> c = toy_circuits({"phi": jnp.eye(2)}, 0, 0.0, steps=300)
    >>> [round(float(g(jnp.array([0.5, 0.2]))), 3) for g in c.values()]
    [0.5, 0.5, 0.5]
    """
    lam = check_float(lam, "lam", 0.0)
    temperature = check_float(temperature, "temperature", 0.0, open_low=True)
    lca = dictionary_neuron(params, index, "lca", lam=lam, steps=steps, eta=eta, temperature=temperature)
    w = dictionary_phi(params)[:, index]
    return {"LCA": lca,
            "ReLU": Partial(_softplus_unit, w, jnp.asarray(-lam, w.dtype), jnp.asarray(temperature, w.dtype)),
            "linear": dictionary_neuron(params, index, "linear")}


class ToyAttack(NamedTuple):
    """One circuit of the toy (:func:`toy_attacks`): its map, its attack, the curvature on the path.

    Attributes:
      value: response on the grid ``(n, n)``.
      grad: its gradient ``(n, n, 2)``.
      attack: the :class:`LevelPath` from the start to the level.
      response: the response at each path point ``(T + 1,)``.
      curvature: exact curvature of the contour at each path point ``(T + 1,)`` (0 for the
        linear and ReLU units).
    """

    value: np.ndarray
    grad: np.ndarray
    attack: LevelPath
    response: np.ndarray
    curvature: np.ndarray


def toy_attacks(params: dict, index: int, lam: float, start: ArrayLike, coords: ArrayLike, *,
                level: float = TOY_LEVEL, step_size: float = 0.02, max_steps: int = 200,
                temperature: float = TOY_TEMPERATURE, steps: int = TOY_LCA["steps"],
                eta: float = TOY_LCA["eta"]) -> dict[str, ToyAttack]:
    r"""The 2-D toy of Paiton et al. (2020, figure 6): for each circuit of :func:`toy_circuits`,
    the response and its gradient on a grid, the gradient attack on unit ``index`` from
    ``start`` until its response reaches ``level``, and the exact contour curvature along it.

    For the linear and ReLU units the contours are straight lines orthogonal to
    :math:`\phi_i` and the path is a straight segment along :math:`\phi_i` (curvature 0).
    For the LCA unit the competing atoms bend the contours (exo-origin, positive curvature
    where the competition switches on), the path turns toward :math:`\phi_i`, and its length
    exceeds its final distance.

    Args:
      params, index, lam, temperature, steps, eta: as :func:`toy_circuits` (D = 2).
      start: the attack's start ``(2,)``.
      coords: the grid ``(n_b, n_a, 2)`` (e.g. :func:`geomlib.grid`), input coordinates.
      level, step_size, max_steps: as :func:`ascent_to_level`.

    Returns:
      name -> :class:`ToyAttack`, for ``"LCA"``, ``"ReLU"`` and ``"linear"``.
    """
    phi = dictionary_phi(params)
    if phi.shape[0] != 2:
        raise ValueError(f"params['phi']: expected a dictionary in 2 dimensions, shape (2, N), got shape {phi.shape}")
    coords = check_array(coords, "coords")
    if coords.ndim != 3 or coords.shape[-1] != 2:
        raise ValueError(f"coords: expected a grid of shape (n_b, n_a, 2), got shape {coords.shape}")
    start = check_array(start, "start")
    if start.shape != (2,):
        raise ValueError(f"start: expected a point of shape (2,), got shape {start.shape}")
    identity = plane(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]))
    out = {}
    for name, f in toy_circuits(params, index, lam, temperature=temperature, steps=steps, eta=eta).items():
        geo = plane_geometry(f, identity, coords)
        attack = ascent_to_level(f, start, level, step_size, max_steps)
        # the path padded with its last point to max_steps + 1 points: one compilation for every path
        padded = np.concatenate([attack.path, np.repeat(attack.path[-1:], max_steps + 1 - len(attack.path), 0)])
        on_path = plane_geometry(f, identity, jnp.asarray(padded, identity.u.dtype))
        t = len(attack.path)
        out[name] = ToyAttack(np.asarray(geo.value, np.float64), np.asarray(geo.grad, np.float64), attack,
                              np.asarray(on_path.value, np.float64)[:t], np.asarray(on_path.curvature, np.float64)[:t])
    return out


class PlaneAttack(NamedTuple):
    """A targeted attack on one image seen in the plane of the image and the target's template
    (:func:`plane_attacks`).

    Attributes:
      plane: the :class:`geomlib.Plane`: origin the image x, u toward the target's template
        image, v the rest of span(x, template) (so both images, and the black image, lie in it).
      coords: the grid ``(n, n, 2)`` in plane units.
      value: the target's logit on the grid ``(n, n)``.
      attack: the :class:`LevelPath` in input space ``(T + 1, D)``.
      path_ab: the path projected on the plane ``(T + 1, 2)``.
      template_ab: where the template image lies in the plane ``(2,)`` (on the a axis).
      cosine: cosine of the perturbation :math:`x^t - x` with the template direction at
        each step ``(T,)``.
      in_plane: fraction of the final perturbation's norm that lies in the plane.
    """

    plane: Plane
    coords: np.ndarray
    value: np.ndarray
    attack: LevelPath
    path_ab: np.ndarray
    template_ab: np.ndarray
    cosine: np.ndarray
    in_plane: float


def _logit(image_logits, target, x):
    return image_logits(x)[target]


def _log_prob(image_logits, target, x):
    return jax.nn.log_softmax(image_logits(x))[target]


def plane_attacks(models: Mapping[str, Callable], x: ArrayLike, target: int, template: ArrayLike,
                  direction: ArrayLike, *, confidence: float = 0.9, step_size: float = 0.1, max_steps: int = 100,
                  n: int = 21) -> dict[str, PlaneAttack]:
    r"""Targeted L2 gradient attacks on one image, drawn in the plane of the image and a template.

    Each attack is :func:`ascent_to_level` on :math:`\log p_t` (clipped to [0, 1]) until the
    target's probability reaches ``confidence``. The plane holds the image x (its origin)
    and the ``template`` (e.g. the target class's mean digit): u points from x to the
    template, v is x itself made orthogonal to u (the plane is span(x, template)). The
    target's *logit* is evaluated on it (not the probability, which saturates), and each
    path is projected on it. The window is the same for every model: a square from a = -0.3 s
    to s, b within +-0.65 s, with s = 1.3 times the farthest projected path point (at least 1).
    Along each path, the cosine of the perturbation :math:`x^t - x` with ``direction`` (e.g.
    target mean minus source mean, as :func:`geomlib.template_cosine`) says how much of the
    target's features it carries.

    Args:
      models: name -> classifier of one image ``(D,) -> (K,)`` (e.g. :func:`geomlib.load_classifier`).
      x: the image ``(D,)`` in [0, 1].
      target: the target class t.
      template: the target's preferred image ``(D,)``, not equal to x.
      direction: the template direction for the cosines ``(D,)``, nonzero.
      confidence: stop at :math:`p_t \ge` this, in (0, 1).
      step_size, max_steps: of the attack (:func:`ascent_to_level`).
      n: grid points per axis, an int in [3, 512].

    Returns:
      name -> :class:`PlaneAttack`.
    """
    x = check_array(x, "x")
    template, direction = check_array(template, "template"), check_array(direction, "direction")
    for name, v in (("x", x), ("template", template), ("direction", direction)):
        if v.ndim != 1 or v.shape != x.shape:
            raise ValueError(f"{name}: expected one image of the same shape (D,) as x, {x.shape}, got shape "
                             f"{v.shape}" if name != "x" else f"x: expected one image (D,), got shape {v.shape}")
    target = check_int(target, "target", 0)
    confidence = check_float(confidence, "confidence", 0.0, 1.0, open_low=True)
    if not confidence < 1.0:
        raise ValueError(f"confidence: expected a probability in (0, 1), got {confidence}")
    n = check_int(n, "n", 3, 512)
    if not isinstance(models, Mapping) or not models:
        raise ValueError(f"models: expected a non-empty dict name -> classifier (D,) -> (K,), got {models!r:.80}")
    logits = {}
    for name, f in models.items():
        logits[name] = check_callable(f, f"models[{name!r}]", "(D,) -> (K,)")
        k = jax.eval_shape(logits[name], jax.ShapeDtypeStruct(x.shape, float_dtype())).shape
        if len(k) != 1 or not target < k[0]:
            raise ValueError(f"target: expected a class in [0, K) of a classifier (D,) -> (K,), got {target} "
                             f"for output shape {k} of models[{name!r}]")
    x64, t64, dn = (np.asarray(v, np.float64) for v in (x, template, direction))
    dist = float(np.linalg.norm(t64 - x64))
    if not dist > 0 or not np.linalg.norm(dn) > 0:
        raise ValueError("template, direction: expected a template other than x and a nonzero direction")
    dt = float_dtype()
    the_plane = plane(jnp.asarray(t64 - x64, dt), jnp.asarray(x64, dt), origin=jnp.asarray(x64, dt))
    u, v = np.asarray(the_plane.u, np.float64), np.asarray(the_plane.v, np.float64)
    attacks = {name: ascent_to_level(Partial(_log_prob, f, target), x64, float(np.log(confidence)), step_size,
                                     max_steps, clip=True) for name, f in logits.items()}
    ab = {name: np.stack([(a.path - x64) @ u, (a.path - x64) @ v], axis=-1) for name, a in attacks.items()}
    s = max(1.0, 1.3 * max(float(np.max(np.abs(p))) for p in ab.values()))
    coords = np.stack(np.meshgrid(np.linspace(-0.3 * s, s, n), np.linspace(-0.65 * s, 0.65 * s, n)), -1)
    out = {}
    for name, f in logits.items():
        value = np.asarray(plane_geometry(Partial(_logit, f, target), the_plane, jnp.asarray(coords, dt)).value,
                           np.float64)
        a = attacks[name]
        delta = a.path[1:] - x64
        cosine = delta @ dn / (np.linalg.norm(delta, axis=1) * np.linalg.norm(dn))
        final = np.linalg.norm(a.path[-1] - x64)
        in_plane = float(np.linalg.norm(ab[name][-1]) / final) if final > 0 else float("nan")
        out[name] = PlaneAttack(the_plane, coords, value, a, ab[name], np.array([dist, 0.0]), cosine, in_plane)
    return out
