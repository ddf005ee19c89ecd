"""Ready-made plane explorers for the chapters (they own their slider ranges).

:func:`dictionary_explorer` (chapter 3): one neuron of a sparse-coding dictionary,
seen through the four circuits that share its weights (linear, ReLU, divisive
normalization, LCA, plus the smooth-threshold LCA whose exact curvature is defined).
Sliders choose the neuron, the LCA threshold lambda and the number of LCA steps; menus
choose the vertical axes: v1 among random directions, v2 among the neuron's closest
competitors (other dictionary elements, closest first beyond ``min_angle_deg``, as in
the curvature survey). Every direction is made orthogonal to the neuron's MEI axis u.

>>> import jax.numpy as jnp
>>> import numpy as np
>>> phi = np.linalg.qr(np.random.default_rng(0).normal(size=(16, 16)))[0][:, :12]
>>> ex = dictionary_explorer({"phi": jnp.asarray(phi)}, {"lam": 0.1, "steps": 20, "eta": 0.1},
...                          neurons=[0, 5], lambdas=(0.1, 0.2), steps=(10, 20), n=12, preview=None)
>>> ex.update(index=5, lam=0.2)["grid"], ex.neuron, round(float(ex.u @ phi[:, 5]), 6)
(12, 'LCA', 1.0)
>>> ex.close()
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import jax
import numpy as np
from jax.typing import ArrayLike

import geomlib
from geomlib.widgets.explorer import PlaneExplorer
from geomlib.widgets.tunable import Tunable

__all__ = ["DIGIT_FUNCTIONS", "LAMBDAS", "STEPS", "dictionary_explorer", "digit_explorer"]

#: Threshold values the lambda slider offers (the dictionary's own value is added).
LAMBDAS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)
#: LCA step counts the steps slider offers (the dictionary's own value is added); each
#: new count compiles once (the step count is the length of a ``lax.scan``).
STEPS = (10, 25, 50, 75, 150, 300)


def _with(values: Sequence, value) -> list:
    return sorted({*values, value})


def dictionary_explorer(
    params: dict,
    lca: dict,
    neurons: Sequence[int],
    *,
    temperature: float | None = None,
    lambdas: Sequence[float] = LAMBDAS,
    steps: Sequence[int] = STEPS,
    n_random: int = 3,
    n_competitors: int = 3,
    min_angle_deg: float = 15.0,
    key: int = 0,
    extent: float = 2.0,
    n: int = 32,
    preview: int | None = 12,
    **kwargs,
) -> PlaneExplorer:
    """A :class:`~geomlib.widgets.PlaneExplorer` over the neurons of an LCA dictionary.

    Args:
      params: ``{"phi": (D, N)}`` dictionary (e.g. ``geomlib.load_params("patches-2x")``).
      lca: its LCA settings ``{"lam", "steps", "eta"}`` (the initial slider values).
      neurons: the neuron indices the index slider offers (the first is shown first).
      temperature: if given, an extra "LCA, smooth" circuit with the softplus threshold
        at this temperature (its exact curvature map is meaningful).
      lambdas, steps: values of the lambda and steps sliders (``lca``'s are added).
      n_random, n_competitors: entries of the v1 (random) and v2 (competitor) menus.
      min_angle_deg: competitors are at least this far from the neuron (degrees).
      key: seed of the random directions (one set for all neurons).
      extent, n, preview, kwargs: passed to :class:`~geomlib.widgets.PlaneExplorer`. An LCA
        neuron costs about 40 MFLOP per point (75 steps of a 512 x 512 matrix-vector
        product for patches-2x), so the defaults (32 x 32, a 12 x 12 preview) are what 2
        CPU cores draw within about 1 s and 0.2 s.

    Returns:
      the explorer; its parameters are ``index``, ``lam`` and ``steps``.
    """
    phi = np.asarray(params["phi"], dtype=np.float64)
    if phi.ndim != 2:
        raise ValueError(f"params['phi']: expected a (D, N) dictionary, got shape {phi.shape}")
    neurons = [int(i) for i in neurons]
    if not neurons or any(not 0 <= i < phi.shape[1] for i in neurons):
        raise ValueError(f"neurons: expected indices in [0, {phi.shape[1]}), got {neurons}")
    eta = lca["eta"]
    competitors: dict[int, np.ndarray] = {}

    def competitor(index: int, rank: int) -> np.ndarray:
        if index not in competitors:  # all ranks of a neuron at once: one Gram row
            sp = geomlib.survey_planes(params, [index], n_comparison=n_competitors, n_random=0,
                                       min_angle_deg=min_angle_deg)
            competitors[index] = np.asarray(sp.planes.v[0])
        return competitors[index][rank]

    def circuit(model: str, **fixed):
        if model == "lca":
            return Tunable(lambda index, lam, steps: geomlib.dictionary_neuron(
                params, index, "lca", lam=lam, steps=steps, eta=eta, **fixed))
        if model == "relu":
            return Tunable(lambda index, lam: geomlib.dictionary_neuron(params, index, "relu", lam=lam))
        return Tunable(lambda index: geomlib.dictionary_neuron(params, index, model))

    circuits = {"LCA": circuit("lca")}
    if temperature is not None:
        circuits[f"LCA, smooth (T = {temperature:g})"] = circuit("lca", temperature=temperature)
    circuits.update({"linear": circuit("linear"), "ReLU": circuit("relu"), "divisive": circuit("divisive")})
    noise = np.asarray(jax.random.normal(jax.random.key(key), (n_random, phi.shape[0])), dtype=np.float64)
    v1 = {f"random {k + 1}": noise[k] for k in range(n_random)}
    v2 = {f"competitor {k + 1}" + (" (closest)" if k == 0 else ""): Tunable(lambda index, k=k: competitor(index, k))
          for k in range(n_competitors)}
    return PlaneExplorer(
        circuits, Tunable(lambda index: phi[:, index]), v1, v2, extent=extent, n=n, preview=preview,
        labels=("MEI of neuron {index}", "random", "competitor"), neuron="LCA",
        parameters={"index": neurons, "lam": _with(lambdas, lca["lam"]), "steps": _with(steps, int(lca["steps"]))},
        parameter_values={"index": neurons[0], "lam": lca["lam"], "steps": int(lca["steps"])},
        parameter_labels={"index": "neuron #", "lam": "λ (threshold)", "steps": "LCA steps"}, **kwargs)


#: What the ``function`` slider of :func:`digit_explorer` offers.
DIGIT_FUNCTIONS = ("logit", "decision")


def digit_explorer(
    models: Mapping[str, Callable],
    images: ArrayLike,
    labels: ArrayLike,
    digits: Sequence[int],
    *,
    reference: str | None = None,
    n_random: int = 2,
    key: int = 0,
    extent: float = 3.0,
    n: int = 20,
    preview: int | None = 10,
    **kwargs,
) -> PlaneExplorer:
    """A :class:`~geomlib.widgets.PlaneExplorer` of digit classifiers on planes through a digit.

    The plane's origin is the digit; its horizontal axis u is the adversarial direction
    of the ``reference`` model at the digit (steepest descent of
    f_label - f_runner-up, :func:`geomlib.adversarial_direction`), so the
    planes are the same for every model of the neuron menu. Sliders choose the digit,
    the class c and the function drawn: the logit f_c, or the decision function
    f_c - f_r, with r the strongest rival of c at the digit for that model (its zero
    contour is the boundary between the two, drawn in red). Menus choose the vertical axes: v1 among
    random directions, v2 between the direction to the nearest digit of another class
    and the adversarial direction of another model.

    Args:
      models: name -> classifier ``(D,) -> (K,)`` (e.g. :func:`geomlib.load_classifier`),
        the neuron menu; two or more for the "adversarial (other model)" axis.
      images, labels: the pool of digits ``(N, D)``, ``(N,)`` (e.g. the held-out split).
      digits: indices into ``images`` offered by the digit slider.
      reference: the model whose adversarial direction is u (default: the first).
      n_random: entries of the v1 menu.
      key: seed of the random directions.
      extent, n, preview, kwargs: passed to :class:`~geomlib.widgets.PlaneExplorer`. An
        LCA classifier costs about 90 MFLOP per point (75 steps of a 768 x 768 product),
        so the defaults (20 x 20, a 10 x 10 preview) are what 2 CPU cores draw, slider to
        painted figure, within about 0.5 s and 0.15 s; a ReLU MLP needs no preview.

    Returns:
      the explorer; its parameters are ``digit``, ``cls`` and ``function``.
    """
    images, labels, digits, reference, n_classes = _check_classifiers(models, images, labels, digits, reference)
    ref = models[reference]
    dt = geomlib.float_dtype()

    def digit_image(digit):
        return images[digit]

    def response(image_logits):
        def build(digit, cls, function):
            if function == "logit":
                return geomlib.decision_function(image_logits, cls)
            z = np.array(image_logits(jax.numpy.asarray(images[digit], dt)), dtype=np.float64)
            z[cls] = -np.inf
            return geomlib.decision_function(image_logits, cls, int(np.argmax(z)))
        return Tunable(build)

    def adversarial(image_logits):
        return Tunable(lambda digit: np.asarray(geomlib.adversarial_direction(image_logits, images[digit]), np.float64))

    noise = np.asarray(jax.random.normal(jax.random.key(key), (n_random, images.shape[1])), dtype=np.float64)
    v1 = {f"random {k + 1}": noise[k] for k in range(n_random)}
    v2 = {"nearest digit of another class": Tunable(
        lambda digit: images[geomlib.nearest_other_class(images, labels, digit)] - images[digit])}
    for name, f in models.items():
        if name != reference:
            v2[f"adversarial ({name})"] = adversarial(f)
    first = digits[0]
    return PlaneExplorer(
        {name: response(f) for name, f in models.items()}, adversarial(ref), v1, v2,
        origin=Tunable(digit_image), extent=extent, n=n, preview=preview,
        labels=(f"adversarial ({reference}) at digit #{{digit}}", "random", "other"),
        parameters={"digit": digits, "cls": list(range(n_classes)), "function": list(DIGIT_FUNCTIONS)},
        parameter_values={"digit": first, "cls": int(labels[first]), "function": "decision"},
        parameter_labels={"digit": "digit #", "cls": "class c", "function": "map"},
        boundary=lambda values: 0.0 if values["function"] == "decision" else None, **kwargs)


def _check_classifiers(models, images, labels, digits, reference):
    """(images float64, labels, digits as ints, the reference model's name, the number of
    classes); ValueError for anything digit_explorer cannot use."""
    if not isinstance(models, Mapping) or not models or not all(callable(f) for f in models.values()):
        raise ValueError(f"models: expected a non-empty dict name -> image_logits ((D,) -> (K,)), got {models!r:.80}")
    images = np.asarray(images, dtype=np.float64)
    labels = np.asarray(labels)
    if images.ndim != 2 or labels.shape != (len(images),):
        raise ValueError(f"images, labels: expected (N, D) and (N,), got {images.shape} and {labels.shape}")
    digits = [int(i) for i in digits]
    if not digits or any(not 0 <= i < len(images) for i in digits):
        raise ValueError(f"digits: expected indices in [0, {len(images)}), got {digits}")
    reference = next(iter(models)) if reference is None else reference
    if reference not in models:
        raise ValueError(f"reference: expected one of {tuple(models)}, got {reference!r}")
    shapes = {name: np.shape(jax.eval_shape(f, jax.ShapeDtypeStruct((images.shape[1],), np.float32)))
              for name, f in models.items()}
    if any(len(shape) != 1 or shape[0] < 2 for shape in shapes.values()):
        raise ValueError(f"models: expected classifiers (D,) -> (K,) with K >= 2 logits, got output shapes {shapes}")
    if len({shape[0] for shape in shapes.values()}) != 1:
        raise ValueError(f"models: expected the same number of classes for every model, got output shapes {shapes}")
    return images, labels, digits, reference, int(shapes[reference][0])
