"""Bad-argument catalogue of geomlib's public API, and a counter (issue 15, the measuring half).

The catalogue holds, for every public callable of ``geomlib.__all__`` that takes arguments
(plus ``Plane(...)`` built directly and the public readers of the result types), one small
VALID base call written as data (the function, its arguments, and what kind of value each
argument is), and generates BAD variants per argument from its kind: None, a string, a bool,
NaN, inf, negative, zero where a count must be >= 1, 2.5 for a count, 2**31, an extra axis, a
wrong length, a complex array, a NaN inside an array, out-of-range labels, an unknown name,
a missing / empty / truncated / garbage file, a transposed weight... plus the hand-written
cases of issue 15.

Every bad variant either must be rejected, or is acceptable with a stated reason and a
check of what it returns. A must-reject call is classified as

* ``clear``: ValueError or TypeError whose message names the argument (its name appears
  in the message; for a file argument the file's path counts too), or, for a file that
  does not exist, Python's FileNotFoundError naming it;
* ``unclear``: any other exception, or a ValueError / TypeError not naming it;
* ``silent``: it returned without an error;
* ``crash``: the process died (or the call hung past the per-call timeout).

The calls run in order in a worker subprocess (``python tools/bad_calls.py --worker``) that
streams one JSON line per result; when the worker dies the call in flight is a crash and a
new worker resumes with the next call.

    python -m tools.bad_calls [--root DIR] [--only NAME[,NAME]] [--show silent,unclear,crash] [--json OUT]

``--root /tmp/old`` runs the same catalogue against another checkout (it goes first on the
worker's ``sys.path``).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
DEFAULT_ROOT = HERE.parent
KINDS = ("clear", "unclear", "silent", "crash")
CALL_TIMEOUT = 60.0
WORKER_MEMORY = 4 * 2 ** 30   # bytes of data segment a worker may use     # seconds per call before the worker is killed and the call counted a crash

# ----------------------------------------------------------------------------- the catalogue as data


@dataclass
class Bad:
    """One bad variant of an entry: ``arg`` set to ``make(base_value, ctx)``."""
    arg: str
    label: str
    make: Callable[[Any, Any], Any]
    accept: str | None = None            # None: must be rejected; else the reason it is acceptable
    check: Callable[[Any, Any], str | None] | None = None   # acceptable: (out, base_out) -> problem or None
    names: tuple[str, ...] = ()          # other words that count as naming the argument
    warn_ok: bool = False                # a warning naming the argument counts as a clear rejection


@dataclass
class Entry:
    name: str                            # geomlib.<name>, or a label such as "Plane.grid"
    group: str
    base: Callable[[Any], dict]          # ctx -> keyword arguments of the valid base call
    kinds: dict[str, str]                # argument -> kind (generates the standard bad variants)
    call: Callable[..., Any] | None = None   # (g, ctx, **kwargs) -> result; default g.<name>(**kwargs)
    extra: list[Bad] = field(default_factory=list)
    skip: tuple[str, ...] = ()           # "arg:label" variants that do not apply
    accept: dict[str, tuple[str, Callable | None]] = field(default_factory=dict)  # "arg:label" -> (reason, check)
    optional: bool = False               # may be missing from the measured geomlib (then its calls are "absent")


NAN, INF = float("nan"), float("inf")


def _np():
    import numpy as np
    return np


def _jnp():
    import jax.numpy as jnp
    return jnp


def _extra_axis(v, ctx):
    return _np().asarray(v)[..., None]


def _short(v, ctx):
    a = _np().asarray(v)
    return a[..., :-1] if a.ndim else a.reshape(1)[:0]


def _complex(v, ctx):
    return _np().asarray(v) + 1j


def _with(value):
    def put(v, ctx):
        a = _np().array(v, dtype=float)
        a.reshape(-1)[0] = value
        return a
    return put


def _const(c):
    return lambda v, ctx: c


def _transposed_layer(v, ctx):
    """A layer list / classifier params with the first weight transposed."""
    np = _np()
    if isinstance(v, dict) and "layers" in v:
        return {**v, "layers": _transposed_layer(v["layers"], ctx)}
    layers = [dict(layer) for layer in v]
    layers[0]["w"] = np.asarray(layers[0]["w"]).T
    return layers


def _nan_layer(v, ctx):
    np = _np()
    if isinstance(v, dict) and "layers" in v:
        return {**v, "layers": _nan_layer(v["layers"], ctx)}
    layers = [dict(layer) for layer in v]
    w = np.array(layers[0]["w"], dtype=float)
    w[0, 0] = np.nan
    layers[0]["w"] = w
    return layers


def standard_variants(arg: str, kind: str) -> list[Bad]:
    """The bad variants of one argument of the given kind."""
    k, _, opt = kind.partition(":")
    optional = k.endswith("?")
    k = k.rstrip("?")
    out: list[Bad] = []

    def add(label, make, **kw):
        out.append(Bad(arg, label, make, **kw))

    if not optional:
        add("None", _const(None))
    if k in ("count", "count0", "size", "chunk", "steps", "index"):
        add("'3'", _const("3"))
        add("True", _const(True))
        if k in ("count", "size", "chunk", "steps"):
            add("0", _const(0))
        add("-5", _const(-5))
        add("2.5", _const(2.5))
        if k == "index":
            add("99 (out of range)", _const(99))
        elif k == "chunk":
            add("2**31", _const(2 ** 31), accept="a chunk larger than the data is one chunk: same result",
                check=same_as_base)
        elif k in ("steps", "size"):    # a traced loop length (int32) or an array size: 2**31 cannot work
            add("2**31", _const(2 ** 31))
    elif k in ("pos", "nonneg", "real", "frac", "prob"):
        add("'0.1'", _const("0.1"))
        add("True", _const(True))
        add("nan", _const(NAN))
        add("inf", _const(INF))
        if k in ("pos", "nonneg", "frac", "prob"):
            add("-1.0", _const(-1.0))
        if k in ("pos", "frac"):
            add("0.0", _const(0.0))
        if k in ("frac", "prob"):
            add("1.5", _const(1.5))
    elif k == "x":
        add("'abc'", _const("abc"))
        if "noshape" not in opt:
            add("extra axis", _extra_axis)
            add("one short", _short)
        add("complex", _complex)
        add("NaN inside", _with(NAN))
    elif k == "lab":
        lab = lambda v, ctx: _np().asarray(ctx.target if v is None else v)  # noqa: E731
        add("'abc'", _const("abc"))
        add("float labels", lambda v, ctx: lab(v, ctx) + 0.5)
        add("99 (out of range)", lambda v, ctx: _np().full_like(lab(v, ctx), 99))
        add("-1", lambda v, ctx: _np().full_like(lab(v, ctx), -1))
        add("one short", lambda v, ctx: _short(lab(v, ctx), ctx))
    elif k in ("key", "seed"):
        add("'abc'", _const("abc"))
        add("True", _const(True))
        add("2.5", _const(2.5))
        if k == "seed":
            add("-1", _const(-1))
    elif k == "name":
        add("'nonexistent'", _const("nonexistent"))
        add("3", _const(3))
    elif k == "fn":
        add("'abc'", _const("abc"))
    elif k == "plane":
        add("'abc'", _const("abc"))
        add("non-orthonormal Plane(...)", lambda v, ctx: ctx.skewed_plane(v), names=("u", "v", "orthonormal"))
        add("Plane of another D", lambda v, ctx: ctx.other_dim_plane(v), names=("D", "dim"))
    elif k == "phi":
        add("{} (no 'phi')", _const({}), names=("phi",))
        add("phi transposed", lambda v, ctx: {"phi": _np().asarray(v["phi"]).T}, names=("phi",))
        add("phi with NaN", lambda v, ctx: {"phi": _with(NAN)(v["phi"], ctx)}, names=("phi",))
        add("'abc'", _const("abc"))
    elif k == "layers":
        add("'abc'", _const("abc"))
        add("first weight transposed", _transposed_layer, names=("w", "layer", "shape"))
        add("NaN weight", _nan_layer, names=("w", "layer", "finite"))
    elif k == "flag":
        add("'no'", _const("no"))
        add("2", _const(2))
    elif k == "path":
        add("missing file", lambda v, ctx: ctx.tmp / "missing.npz")
        add("empty file", lambda v, ctx: ctx.empty_file)
        add("truncated .npz", lambda v, ctx: ctx.truncated(v))
        add("a directory", lambda v, ctx: ctx.tmp)
        add("garbage", lambda v, ctx: ctx.garbage_file)
    elif k == "floats":   # a sequence of real numbers
        add("'abc'", _const("abc"))
        add("[nan]", _const([NAN]))
        add("[-0.1]", _const([-0.1]))
        add("True", _const(True))
    else:
        raise ValueError(f"unknown kind {kind!r} of {arg}")
    return out


# checks of acceptable results (out, base_out) -> None when fine, else what is wrong


def same_as_base(out, base):
    np = _np()
    import dataclasses

    import jax
    if dataclasses.is_dataclass(out) and dataclasses.is_dataclass(base):   # e.g. SurveyResult: its array fields
        out, base = ([v for v in vars(o).values() if isinstance(v, np.ndarray) and v.dtype.kind in "fiub"]
                     for o in (out, base))
    a, b = jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(base)
    if len(a) != len(b):
        return f"different structure: {len(a)} vs {len(b)} leaves"
    for x, y in zip(a, b):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape or not np.allclose(x, y, equal_nan=True, rtol=1e-5, atol=1e-6):
            return f"differs from the base call: {summarise(x)} vs {summarise(y)}"
    return None


# ----------------------------------------------------------------------------- base objects (built in the worker)


def _bowl(x):
    """A curved scalar response on R^4: contours a = c + b^2 / 4 in the (e0, e1) plane."""
    jnp = _jnp()
    return x[0] - 0.25 * x[1] ** 2 + 0.05 * jnp.sum(x[2:] ** 2)


def _bowl_batch(x):
    return x[..., 0] - 0.25 * x[..., 1] ** 2


def _loss_batch(x):
    return 0.5 * (x ** 2).sum(-1)


class Ctx:
    """Small valid objects shared by the calls of one worker (built on first use)."""

    def __init__(self, g, tmp: Path):
        self.g, self.tmp = g, tmp
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        cache = self.__dict__["_cache"]
        if name not in cache:
            cache[name] = getattr(type(self), "make_" + name)(self)
        return cache[name]

    # arrays, models
    def make_key(self):
        import jax
        return jax.random.PRNGKey(0)

    def make_phi(self):
        return self.g.init_dictionary(self.key, 4, 3)

    def make_x(self):
        np = _np()
        return np.random.default_rng(0).uniform(0.2, 0.8, (2, 4)).astype(np.float32)

    def make_cparams(self):
        np = _np()
        r = np.random.default_rng(1)
        return {"layers": [{"w": r.normal(size=(5, 4)).astype(np.float32), "b": np.zeros(5, np.float32)},
                           {"w": r.normal(size=(3, 5)).astype(np.float32), "b": np.zeros(3, np.float32)}]}

    def make_logits(self):
        return self.g.bind_classifier(self.cparams)

    def make_smooth(self):
        return self.g.bind_classifier(self.cparams, smooth_temperature=0.1)

    def make_y(self):
        np = _np()
        return np.asarray(np.argmax(np.asarray(self.logits(self.x)), axis=1), dtype=np.int32)

    def make_target(self):
        return (self.y + 1) % 3

    def make_means(self):
        np = _np()
        return np.random.default_rng(2).uniform(0.2, 0.8, (3, 4)).astype(np.float32)

    def make_f(self):
        from jax.tree_util import Partial
        return Partial(_bowl)

    def make_fb(self):
        from jax.tree_util import Partial
        return Partial(_bowl_batch)

    def make_loss(self):
        from jax.tree_util import Partial
        return Partial(_loss_batch)

    def make_plane(self):
        np = _np()
        e = np.eye(4, dtype=np.float32)
        return self.g.plane(e[0], e[1], 0.1 * e[2])

    def make_planes(self):
        return self.g.survey_planes(self.phi, _np().array([0, 1]), 1, 1, key=0).planes

    def make_coords(self):
        return self.plane.grid(5, 1.0)

    def make_mlp_layers(self):
        return self.g.init_mlp(self.key, [4, 5, 3])

    def make_path(self):
        return self.g.gradient_ascent_path(self.fb, self.x, 0.1, 3)

    def make_survey(self):
        return self.g.run_survey(self.phi, "linear", 2, 1, 1, 0, progress=False)

    def make_survey_file(self):
        p = self.tmp / "survey.npz"
        self.g.save_survey(self.survey, p)
        return p

    def make_measures(self):
        return self.g.measure_classifier(self.logits, self.smooth, self.x, self.y, self.target, self.means,
                                         **TINY_MEASURE)

    def make_results(self):
        m = self.measures
        return {"a": m, "b": m._replace(msd=m.msd * 2), "c": m._replace(msd=m.msd * 3)}

    def make_temperature_curvatures(self):
        np = _np()
        from geomlib._src.defense.temperatures import TemperatureCurvatures
        return {n: TemperatureCurvatures(np.array([0.05, 0.025]), np.full((2, 3, 1), s), np.ones((2, 3)), 0.25)
                for n, s in (("a", 1.0), ("b", 2.0), ("c", 3.0))}

    def make_temperatures_file(self):
        """A temperatures file as the command writes it (one model, two temperatures, three digits)."""
        np = _np()
        import json as _json
        from geomlib._src.core.files import write_npz
        p = self.tmp / "temperatures.npz"
        c = self.temperature_curvatures["a"]
        write_npz(p, {"settings": np.asarray(_json.dumps({"images": [0, 1, 2]})), "models": np.asarray(["a"]),
                      "command": np.asarray("python -m geomlib.cli.temperatures"), "seconds": np.asarray(1.0),
                      "a/temperatures": c.temperatures, "a/curvatures": c.curvatures, "a/distances": c.distances,
                      "a/lam": np.asarray(c.lam), "a/seconds": np.asarray(1.0)})
        return p

    def make_digits(self):
        """Two held-out MNIST digits and their labels (what prediction_measures measures)."""
        np = _np()
        d = self.g.load_mnist_subset(seed=0)
        return np.asarray(d.x_test[:2], np.float32), np.asarray(d.y_test[:2])

    def make_prediction_measures(self):
        np = _np()
        from geomlib._src.defense.prediction_run import PredictionMeasures
        return {n: PredictionMeasures(0.05, np.array([1.0, 2.0]), np.array([[0.5], [0.2]]), np.array([0.9, 2.0]),
                                      np.array([0, 1]), np.array([[20.0, 30.0], [40.0, np.inf]]) * s)
                for n, s in (("a", 1.0), ("b", 2.0))}

    def make_prediction_file(self):
        """A prediction file as the command writes it (one model, two digits)."""
        np = _np()
        import json as _json
        from geomlib._src.core.files import write_npz
        p = self.tmp / "prediction.npz"
        m = self.prediction_measures["a"]
        write_npz(p, {"settings": np.asarray(_json.dumps({"images": [0, 1]})), "models": np.asarray(["a"]),
                      "command": np.asarray("python -m geomlib.cli.prediction"), "seconds": np.asarray(1.0),
                      **{f"a/{k}": np.asarray(v) for k, v in m._asdict().items()}, "a/seconds": np.asarray(1.0)})
        return p

    def make_comparison_file_24(self):
        """Chapter 8's committed comparison file (its digits are what predictions_to_file measures)."""
        from pathlib import Path as _Path
        return _Path(self.g.__file__).resolve().parent.parent / "notebooks" / "results" / "defense-mnist-24.npz"

    def make_comparison_file(self):
        p = self.tmp / "comparison.npz"
        self.g.save_comparison(p, self.results, {"note": "tiny"})
        return p

    def make_params_dir(self):
        """A directory with a tiny classifier, a transposed twin, and an LCA classifier whose
        dictionary file lacks ``phi``."""
        np = _np()
        d = self.tmp / "params"
        d.mkdir(exist_ok=True)
        c = self.cparams["layers"]
        flat = {"w0": c[0]["w"], "b0": c[0]["b"], "w1": c[1]["w"], "b1": c[1]["b"]}
        self.g.save_params("tiny", flat, {"config": {}}, directory=d)
        self.g.save_params("tiny-transposed", {**flat, "w0": np.asarray(c[0]["w"]).T}, {"config": {}}, directory=d)
        self.g.save_params("tinydict", {"psi": np.asarray(self.phi["phi"])}, {"config": {}}, directory=d)
        lca_w0 = np.random.default_rng(3).normal(size=(5, 3)).astype(np.float32)
        self.g.save_params("tiny-lca", {**flat, "w0": lca_w0},
                           {"config": {}, "lca": {"dictionary": "tinydict", "lam": 0.1, "eta": 0.1, "steps": 3}},
                           directory=d)
        return d

    def make_lcaparams(self):
        """A tiny LCA classifier: a 4 x 3 dictionary in front of the 3 -> 5 -> 3 MLP."""
        np = _np()
        r = np.random.default_rng(5)
        phi = r.normal(size=(4, 3)).astype(np.float32)
        return {"layers": [{"w": r.normal(size=(5, 3)).astype(np.float32), "b": np.zeros(5, np.float32)},
                           {"w": r.normal(size=(3, 5)).astype(np.float32), "b": np.zeros(3, np.float32)}],
                "lca": {"phi": phi / np.linalg.norm(phi, axis=0), "lam": np.float32(0.1), "eta": np.float32(0.1)}}

    def make_mnist_dir(self):
        return write_idx_dir(self.tmp / "idx-ok", labels=(1, 2, 3))

    def make_mnist_bad_label_dir(self):
        return write_idx_dir(self.tmp / "idx-255", labels=(1, 255, 3))

    def make_cifar_dir(self):
        import pickle
        np = _np()
        d = self.tmp / "cifar"
        d.mkdir(exist_ok=True)
        r = np.random.default_rng(4)
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            with open(d / name, "wb") as fh:
                pickle.dump({b"data": r.integers(0, 256, (4, 3072), dtype=np.uint8),
                             b"labels": [int(v) for v in r.integers(0, 10, 4)]}, fh)
        return d

    def make_empty_file(self):
        p = self.tmp / "empty.npz"
        p.write_bytes(b"")
        return p

    def make_garbage_file(self):
        p = self.tmp / "garbage.npz"
        p.write_bytes(b"this is not a numpy file\n" * 20)
        return p

    def truncated(self, v):
        """A truncated copy of the file ``v`` (a path, or a shipped model's name)."""
        src = Path(v) if isinstance(v, (str, os.PathLike)) and Path(v).exists() else None
        if src is None:
            src = self.survey_file
        data = src.read_bytes()
        p = self.tmp / f"truncated-{src.name}"
        p.write_bytes(data[: len(data) // 2])
        return p

    def skewed_plane(self, p):
        np = _np()
        e = np.eye(4, dtype=np.float32)
        return self.g.Plane(np.asarray(p.origin), e[0], (e[0] + e[1]) / np.sqrt(2, dtype=np.float32))

    def other_dim_plane(self, p):
        np = _np()
        e = np.eye(5, dtype=np.float32)
        return self.g.plane(e[0], e[1])


TINY_MEASURE = dict(eps=(0.05,), pgd_steps=2, k=1, lanczos_iterations=3, msd_steps=5, survey=(2, 1, 1))


def write_idx_dir(d: Path, labels=(1, 2, 3)) -> Path:
    """Four tiny IDX files (3 images of 2 x 2 pixels per split)."""
    import struct
    np = _np()
    d.mkdir(exist_ok=True)
    for part in ("train", "t10k"):
        img = np.arange(12, dtype=np.uint8).reshape(3, 2, 2)
        (d / f"{part}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, 3, 2, 2) + img.tobytes())
        (d / f"{part}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, 3)
                                                       + np.asarray(labels, np.uint8).tobytes())
    return d


# ----------------------------------------------------------------------------- entries


RENAMED: dict[str, str] = {}   # catalogue argument -> the measured function's own name for it


def invoke(fn, kw: dict):
    """``fn(**kw)``, where an argument the function does not know by the catalogue's name (a
    parameter renamed since) is passed under the name of the parameter at its position (the base
    calls list arguments in signature order); the error may then name either."""
    import inspect
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return fn(**kw)
    names = [p.name for p in params]
    if all(k in names for k in kw) or any(p.kind is p.VAR_KEYWORD for p in params):
        return fn(**kw)
    out = {}
    for pos, (k, v) in enumerate(kw.items()):
        if k not in names and pos < len(params) and params[pos].name not in kw:
            RENAMED[k] = params[pos].name
            k = params[pos].name
        out[k] = v
    return fn(**out)


def _m(method):
    """Call a method of a base object: kwargs["self"] is the object."""
    def call(g, ctx, **kw):
        obj = kw.pop("self")
        return getattr(obj, method)(**kw)
    return call


def _plane_direct(g, ctx, **kw):
    p = g.Plane(**kw)
    return g.plane_geometry(ctx.f, p, ctx.coords).curvature


def _grid_asarray(g, ctx, **kw):
    import numpy as np
    return np.asarray(ctx.plane.grid(**kw))


def _decision_eval(g, ctx, **kw):
    return invoke(g.decision_function, kw)(ctx.x[0])


def _one_image_eval(g, ctx, **kw):
    return invoke(g.one_image, kw)(ctx.x[0])


def _target_lp_eval(g, ctx, **kw):
    return invoke(g.target_log_probability, kw)(ctx.x)


def _dictionary_neuron_eval(g, ctx, **kw):
    return invoke(g.dictionary_neuron, kw)(ctx.x[0])


def _bind_eval(g, ctx, **kw):
    return invoke(g.bind_classifier, kw)(ctx.x)


def _finite_out(out, base):
    """Acceptable-result check: every array leaf of the result is finite."""
    import jax
    np = _np()
    leaves = [np.asarray(v) for v in jax.tree_util.tree_leaves(out)] if not isinstance(out, list) else \
        [np.asarray(v) for v in out]
    return None if leaves and all(np.all(np.isfinite(v)) for v in leaves) else "a non-finite or empty result"


_ANY_D = ("f (the bowl x0 - x1^2/4 + 0.05 |x2:|^2) is defined on every R^D, D >= 2; the plane or the point sets D: "
          "a valid call in R^5 / R^3, finite result", _finite_out)


def _shape_check(get, shape):
    """An acceptable result's check: ``get(out)`` has ``shape``."""
    def check(out, base):
        got = tuple(get(out))
        if got != tuple(shape):
            return f"shape {got}, expected {tuple(shape)}"
        return None
    return check


def _lca_code_of_zero(out, base):
    """lca_codes with 0 steps (T = 0.1, lam = 0.15): every code T softplus(-lam / T)."""
    np = _np()
    want = 0.1 * np.log1p(np.exp(-1.5))
    out = np.asarray(out)
    return None if out.shape == (3,) and np.allclose(out, want, rtol=1e-5) else f"{summarise(out)}, expected {want:.4g} each"


def E(name, group, base, kinds, **kw) -> Entry:
    return Entry(name, group, base, kinds, **kw)


def catalogue() -> list[Entry]:
    """Every entry (base call + kinds of its arguments + hand-written bad variants)."""
    np = _np()
    P, L, T, D, A, R, B, C, S, F = ("planes/geometry", "LCA", "training", "data/IO", "attacks", "robustness",
                                     "boundary", "classifiers", "survey", "defense")
    e4 = np.eye(4, dtype=np.float32)
    entries = [
        # ------------------------------------------------------------------ planes / geometry / simple neurons
        E("plane", P, lambda c: dict(u=e4[0], v=e4[1] + e4[0], origin=0.1 * e4[2], tol=1e-6),
          dict(u="x", v="x", origin="x?", tol="pos"),
          extra=[Bad("v", "parallel to u", _const(2 * e4[0])), Bad("u", "zero vector", _const(0 * e4[0]))]),
        E("Plane", P, lambda c: dict(origin=e4[2] * 0.1, u=e4[0], v=e4[1]), dict(u="x", v="x", origin="x"),
          call=_plane_direct,
          extra=[Bad("v", "not orthogonal to u (Plane(...) directly)",
                     _const((e4[0] + e4[1]) / np.sqrt(2, dtype=np.float32)), names=("orthonormal", "plane")),
                 Bad("u", "not unit length (Plane(...) directly)", _const(2 * e4[0]), names=("orthonormal", "plane"))]),
        E("Plane.grid", P, lambda c: dict(self=c.plane, n=5, extent=1.0), dict(n="size", extent="pos"),
          call=_m("grid"), extra=[Bad("extent", "((1, -1), (-1, 1)) reversed", _const(((1.0, -1.0), (-1.0, 1.0)))),
                                   Bad("n", "(5, 0)", _const((5, 0)))]),
        E("np.asarray(Plane.grid)", P, lambda c: dict(n=5), {}, call=_grid_asarray,
          extra=[Bad("n", "10**9", _const(10 ** 9))]),
        E("Plane.embed", P, lambda c: dict(self=c.plane, coords=c.coords), dict(coords="x"), call=_m("embed")),
        E("Plane.project", P, lambda c: dict(self=c.plane, x=c.x), dict(x="x"), call=_m("project")),
        E("grid", P, lambda c: dict(n=5, extent=1.0), dict(n="size", extent="pos")),
        E("plane_values", P, lambda c: dict(f=c.f, plane=c.plane, coords=c.coords, chunk_size=64),
          dict(f="fn", plane="plane", coords="x", chunk_size="chunk"), accept={"plane:Plane of another D": _ANY_D}),
        E("plane_gradients", P, lambda c: dict(f=c.f, plane=c.plane, coords=c.coords, chunk_size=64),
          dict(f="fn", plane="plane", coords="x", chunk_size="chunk"), accept={"plane:Plane of another D": _ANY_D}),
        E("plane_geometry", P, lambda c: dict(f=c.f, plane=c.plane, coords=c.coords, mode="auto", chunk_size=64),
          dict(f="fn", plane="plane", coords="x", mode="name", chunk_size="chunk"),
          accept={"plane:Plane of another D": _ANY_D}),
        E("grid_curvature", P, lambda c: dict(f=c.f, plane=c.plane, coords=c.coords, chunk_size=64),
          dict(f="fn", plane="plane", coords="x", chunk_size="chunk"), accept={"plane:Plane of another D": _ANY_D}),
        E("contour_curvature", P, lambda c: dict(grad=np.array([1.0, 0.0]), hess=np.array([[0.0, 0.0], [0.0, -0.5]])),
          dict(grad="x", hess="x")),
        E("grid_curvature_from_gradient", P, lambda c: dict(grad=c.g.plane_gradients(c.f, c.plane, c.coords)[1]
                                                           if isinstance(c.g.plane_gradients(c.f, c.plane, c.coords), tuple)
                                                           else c.g.plane_gradients(c.f, c.plane, c.coords),
                                                           coords=c.coords),
          dict(grad="x", coords="x"), optional=True),
        E("contour_points", P, lambda c: dict(values=np.asarray(c.coords)[..., 0], coords=c.coords, level=0.2),
          dict(values="x", coords="x", level="real"),
          accept={"values:NaN inside": ("documented: NaN marks a point where the field is undefined; contours stop "
                                        "there (a list of contour pieces)",
                                        lambda out, base: None if isinstance(out, list) and all(
                                            np.all(np.isfinite(q)) for q in out) else "not a list of finite pieces")}),
        E("contour_turning", P, lambda c: dict(f=c.f, plane=c.plane,
                                               points=np.stack([0.25 * np.linspace(-1, 1, 9) ** 2,
                                                                np.linspace(-1, 1, 9)], -1)),
          dict(f="fn", plane="plane", points="x"),
          accept={"plane:Plane of another D": _ANY_D,
                  "points:NaN inside": ("documented: rows with NaN are dropped (at least 2 must remain)", _finite_out)}),
        E("fit_contour_curvature", P, lambda c: dict(f=c.f, plane=c.plane, level=0.3, extent=2.0, n=16, chunk_size=1024),
          dict(f="fn", plane="plane", level="real", extent="pos", n="size", chunk_size="chunk"),
          extra=[Bad("extent", "1e4 (exact 0.25 not resolved at this n)", _const(1e4), warn_ok=True,
                     names=("extent", "n", "resol"),
                     accept="documented: at n=16 no contour point falls on the a > 0 side of this window, and fewer "
                            "than 3 points give NaN (not a number that reads as a curvature); a contour found but "
                            "spanning < 4 grid steps (n=64: 0.466) warns, naming extent and n (tests/test_contours.py)",
                     check=lambda out, base: None if np.isnan(out) else f"{out!r} is not NaN")],
          accept={"plane:Plane of another D": _ANY_D}),
        E("axis_curvature", P, lambda c: dict(f=c.f, planes=c.planes, a=0.5, mode="rev"),
          dict(f="fn", planes="plane", a="real", mode="name"),
          accept={"planes:Plane of another D": _ANY_D,
                  **{f"a:{lab}": ("documented: NaN entries of a are allowed (bend.c0 of planes without a contour) and "
                                  "give NaN; a non-finite a gives NaN", lambda out, base: None if np.all(
                                      np.isnan(np.asarray(out))) else "not all NaN") for lab in ("nan", "inf")}}),
        E("principal_curvatures", P, lambda c: dict(f=c.f, x=c.x[0], k=None, which="LM", tol=1e-6),
          dict(f="fn", x="x", k="count?", which="name", tol="pos"),
          extra=[Bad("k", "4 (> D - 1)", _const(4))],
          accept={"x:one short": _ANY_D,
                  "tol:0.0": ("documented: tol >= 0, 0 = machine precision as in scipy's eigsh (unused by the dense "
                              "k=None path): the same curvatures", same_as_base)}),
        E("lanczos_curvatures", P, lambda c: dict(f=c.f, x=c.x, k=1, iterations=3, tol=1e-4, chunk=16, seed=0),
          dict(f="fn", x="x", k="size", iterations="steps", tol="pos", chunk="chunk", seed="seed"),
          extra=[Bad("k", "4 (> D - 1)", _const(4)), Bad("which", "'nonexistent'", _const("nonexistent"))],
          accept={"x:one short": _ANY_D,
                  "iterations:2**31": ("documented: iterations is capped at D - 1, where the result is exact: the "
                                       "same curvatures as iterations=3 = D - 1", same_as_base)}),
        E("path_plane_coordinates", P, lambda c: dict(path=c.path, plane=c.plane), dict(path="x", plane="plane")),
        E("linear_neuron", P, lambda c: dict(params={"w": e4[0], "b": 0.0}, x=c.x[0]), dict(x="x"),
          extra=[Bad("params", "None", _const(None)), Bad("params", "{} (no 'w')", _const({}), names=("w",)),
                 Bad("params", "w of length 3", _const({"w": np.ones(3), "b": 0.0}), names=("w",))]),
        E("pointwise_neuron", P, lambda c: dict(params={"w": e4[0], "b": 0.0}, x=c.x[0], nonlinearity="relu",
                                                temperature=1.0),
          dict(x="x", nonlinearity="name", temperature="pos")),
        E("activation", P, lambda c: dict(z=np.linspace(-1, 1, 5), nonlinearity="softplus", temperature=1.0),
          dict(z="x:noshape", nonlinearity="name", temperature="pos"),
          accept={"z:NaN inside": ("documented: elementwise, a NaN entry of z gives NaN at that entry only (as a "
                                   "NumPy ufunc); the others are unchanged",
                                   lambda out, base: None if (np.isnan(np.asarray(out)[0]) and np.allclose(
                                       np.asarray(out)[1:], np.asarray(base)[1:])) else "not NaN at entry 0 only")}),
        E("energy_neuron", P, lambda c: dict(params={"w": e4[:2]}, x=c.x[0]), dict(x="x"),
          extra=[Bad("params", "None", _const(None)), Bad("params", "{} (no 'w')", _const({}), names=("w",))]),
        E("quadrature_pair", P, lambda c: dict(w=np.random.default_rng(0).normal(size=16), shape=None),
          dict(w="x"), extra=[Bad("shape", "(3, 5)", _const((3, 5))), Bad("shape", "'abc'", _const("abc"))],
          accept={"w:extra axis": ("documented: w is (D,) or an image (h, w); (16, 1) is a valid 16 x 1 image: its "
                                   "unit-norm partner of the same shape",
                                   lambda out, base: None if (np.shape(out) == (16, 1) and abs(
                                       np.linalg.norm(out) - 1) < 1e-9) else "not a unit-norm (16, 1) image")}),
        E("one_image", P, lambda c: dict(response_fn=c.fb), dict(response_fn="fn"), call=_one_image_eval),
        # ------------------------------------------------------------------ LCA
        E("lca_neuron", L, lambda c: dict(params=c.phi, x=c.x[0], index=0, lam=0.15, steps=5, eta=0.1,
                                          temperature=None),
          dict(params="phi", x="x", index="index", lam="nonneg", steps="steps", eta="pos", temperature="pos?")),
        E("lca_codes", L, lambda c: dict(phi=c.phi["phi"], s=c.x[0], lam=0.15, steps=5, eta=0.1, temperature=0.1),
          dict(phi="x", s="x", lam="nonneg", steps="steps", eta="pos", temperature="pos?"),
          accept={"steps:0": ("documented: 0 Euler steps is the code of the initial state u = 0 (the energy "
                              "test starts there); equal entries T softplus(-lam / T)", _lca_code_of_zero),
                  "phi:one short": ("a (4, 2) dictionary is another valid dictionary (N is free): 2 codes",
                                    _shape_check(lambda out: out.shape, (2,)))}),
        E("lca_trajectory", L, lambda c: dict(phi=c.phi["phi"], s=c.x[0], lam=0.15, steps=5, eta=0.1,
                                              temperature=None),
          dict(phi="x", s="x", lam="nonneg", steps="steps", eta="pos", temperature="pos?"),
          accept={"phi:one short": ("a (4, 2) dictionary is another valid dictionary (N is free): codes (6, 2)",
                                    _shape_check(lambda out: out.a.shape, (6, 2)))}),
        E("lca_energy", L, lambda c: dict(phi=c.phi["phi"], s=c.x[0], a=np.array([0.1, 0.0, 0.2]), lam=0.15),
          dict(phi="x", s="x", a="x", lam="nonneg")),
        E("lca_threshold", L, lambda c: dict(u=np.linspace(-1, 1, 5), lam=0.15, temperature=None),
          dict(u="x:noshape", lam="nonneg", temperature="pos?")),
        E("lca_statistics", L, lambda c: dict(params=c.phi, data=c.x, lam=0.15, steps=5, eta=0.1, batch_size=8),
          dict(params="phi", data="x", lam="nonneg", steps="steps", eta="pos", batch_size="chunk")),
        E("dictionary_neuron", L, lambda c: dict(params=c.phi, index=1, model="lca", lam=0.15, steps=5, eta=0.1,
                                                 temperature=0.1, sigma=1.0, exponent=2.0),
          dict(params="phi", index="index", model="name", lam="nonneg", steps="steps", eta="pos",
               temperature="pos?", sigma="pos", exponent="pos"), call=_dictionary_neuron_eval),
        E("divisive_normalization_neuron", L, lambda c: dict(params=c.phi, x=c.x[0], index=0, sigma=1.0, exponent=2.0),
          dict(params="phi", x="x", index="index", sigma="pos", exponent="pos")),
        E("init_dictionary", L, lambda c: dict(key=c.key, dim=4, n_neurons=3),
          dict(key="key", dim="size", n_neurons="size")),
        E("mei_axis", L, lambda c: dict(params=c.phi, index=0), dict(params="phi", index="index"),
          accept={"params:phi transposed": ("a (3, 4) phi is a valid dictionary of 4 neurons in D = 3; with no "
                                            "input there is no D to compare: its unit-norm element 0, shape (3,)",
                                            _shape_check(lambda out: out.shape, (3,)))}),
        E("neuron_weights", L, lambda c: dict(params=c.phi, index=0, bias=0.0),
          dict(params="phi", index="index", bias="real"),
          accept={"params:phi transposed": ("a (3, 4) phi is a valid dictionary of 4 neurons in D = 3; with no "
                                            "input there is no D to compare: w of shape (3,)",
                                            _shape_check(lambda out: out["w"].shape, (3,)))}),
        # ------------------------------------------------------------------ training
        E("train_lca", T, lambda c: dict(data=np.random.default_rng(5).normal(size=(8, 4)).astype(np.float32),
                                         n_neurons=3, lam=0.15, steps=3, eta=0.1, batches=2, batch_size=4, lr=0.005,
                                         seed=0, progress=False),
          dict(data="x", n_neurons="size", lam="nonneg", steps="steps", eta="pos", batches="count",
               batch_size="count", lr="pos", seed="seed"),
          extra=[Bad("batch_size", "9 (> n = 8)", _const(9)),
                 Bad("data", "a NaN column", lambda v, c: np.where(np.arange(4) == 1, np.nan, v))],
          accept={"data:one short": ("data (8, 3) is a valid training set of D = 3 (D is free): phi (3, 3)",
                                     _shape_check(lambda out: out[0]["phi"].shape, (3, 3)))}),
        E("train_classifier", T, lambda c: dict(x=c.x.repeat(4, 0), y=np.tile(np.array([0, 1], np.int32), 4),
                                                hidden=(3,), epochs=1, batch_size=4, lr=0.001, weight_decay=1e-4,
                                                copies=0, shift=2, seed=0, progress=False),
          dict(x="x", y="lab", epochs="count", batch_size="count", lr="pos", weight_decay="nonneg", copies="count0",
               seed="seed"),
          skip=("y:99 (out of range)",),
          accept={"x:one short": ("valid: images of one pixel fewer are training data of D - 1 = 3 (the first layer "
                                  "takes 3 inputs)", lambda out, base: None if np.shape(out[0]["layers"][0]["w"])[1] == 3
                                  else "first layer does not take D - 1 inputs")},
          extra=[Bad("batch_size", "9 (> n = 8)", _const(9)), Bad("hidden", "(0,)", _const((0,))), Bad("hidden", "'abc'", _const("abc")),
                 Bad("hidden", "(2.5,)", _const((2.5,))),
                 Bad("cure", "{'h': -1.0, 'gamma': 1.0}", _const({"h": -1.0, "gamma": 1.0}), names=("h",)),
                 Bad("cure", "{'h': 0.1} (no gamma)", _const({"h": 0.1}), names=("gamma",)),
                 Bad("adversarial", "{'eps': 2.0}", _const({"eps": 2.0}), names=("eps",)),
                 Bad("adversarial", "{'eps': nan}", _const({"eps": NAN}), names=("eps",)),
                 Bad("lca", "{} (no 'phi')", _const({}), names=("phi",)),
                 Bad("lca", "phi of another D", lambda v, c: {"phi": np.ones((5, 3)), "lam": 0.1, "steps": 3,
                                                              "eta": 0.1}, names=("phi",)),
                 Bad("y", "labels [0, 5] (class gaps)", lambda v, c: np.where(np.asarray(v) == 1, 5, 0),
                     accept="K = max(y) + 1 outputs; an absent class is trained only as a negative (documented)",
                     check=lambda out, base: None if np.shape(out[0]["layers"][-1]["w"])[0] == 6
                     else "expected 6 output units")]),
        E("fit_linear_neuron", T, lambda c: dict(x=c.x.repeat(2, 0), target=np.array([0, 1, 1, 0]), l2=1e-3, steps=3,
                                                 learning_rate=0.05),
          dict(x="x", target="lab", l2="nonneg", steps="count", learning_rate="pos"),
          skip=("target:-1", "target:99 (out of range)"),
          extra=[Bad("target", "values 2 (not 0/1)", lambda v, c: np.full(4, 2))],
          accept={"x:one short": ("x (4, 3) is a valid design matrix of D = 3 (D is free): w of shape (3,)",
                                  _shape_check(lambda out: out[0]["w"].shape, (3,)))}),
        E("init_mlp", C, lambda c: dict(key=c.key, sizes=[4, 5, 3], scale=1.0),
          dict(key="key", scale="pos"),
          extra=[Bad("sizes", "[4, 0, 3]", _const([4, 0, 3])), Bad("sizes", "[4]", _const([4])),
                 Bad("sizes", "'abc'", _const("abc")), Bad("sizes", "[4, 2.5, 3]", _const([4, 2.5, 3])),
                 Bad("sizes", "None", _const(None))]),
        E("cure_penalty", T, lambda c: dict(fn=c.logits, x=c.x, h=0.1, y=c.y),
          dict(fn="fn", x="x", h="pos", y="lab?")),
        # ------------------------------------------------------------------ data / IO
        E("load_params", D, lambda c: dict(name="tiny", directory=c.params_dir), dict(name="name"),
          extra=[Bad("directory", "holding a truncated tiny.npz", lambda v, c: _copy_truncated(c, "tiny"),
                     names=("tiny.npz",)),
                 Bad("directory", "holding an empty tiny.npz", lambda v, c: _copy_empty(c, "tiny"), names=("tiny.npz",)),
                 Bad("directory", "missing dir", lambda v, c: c.tmp / "nowhere", names=("nowhere",))]),
        E("load_metadata", D, lambda c: dict(name="tiny", directory=c.params_dir), dict(name="name"),
          extra=[Bad("directory", "holding a truncated tiny.npz", lambda v, c: _copy_truncated(c, "tiny"),
                     names=("tiny.npz",)),
                 Bad("directory", "a file", lambda v, c: c.empty_file)]),
        E("save_params", D, lambda c: dict(name="saved", params={"w": np.ones(3)}, metadata={"config": {}},
                                           directory=c.tmp / "saved", storage="float32"),
          dict(name="name", storage="name"),
          skip=("name:'nonexistent'",),
          extra=[Bad("params", "None", _const(None)), Bad("params", "{'w': 'abc'}", _const({"w": "abc"}), names=("w",)),
                 Bad("metadata", "None", _const(None)), Bad("metadata", "{'x': object()}", _const({"x": object()}),
                                                             names=("x",)),
                 Bad("directory", "an existing file", lambda v, c: c.garbage_file),
                 Bad("name", "'../escape'", _const("../escape"))]),
        E("load_classifier", C, lambda c: dict(name="tiny", smooth_temperature=None, directory=c.params_dir),
          dict(name="name", smooth_temperature="pos?"),
          extra=[Bad("name", "file with transposed weight", _const("tiny-transposed"),
                     names=("tiny-transposed", "w0", "weight")),
                 Bad("name", "LCA classifier whose dictionary lacks 'phi'", _const("tiny-lca"),
                     names=("tinydict", "phi")),
                 Bad("directory", "holding a truncated tiny.npz", lambda v, c: _copy_truncated(c, "tiny"),
                     names=("tiny.npz",)),
                 Bad("directory", "missing dir", lambda v, c: c.tmp / "nowhere", names=("nowhere",))]),
        E("load_classifier('mlp-2')(x)", C, lambda c: dict(name="mlp-2", smooth_temperature=0.05,
                                                           x=np.full((2, 784), 0.5, np.float32)),
          dict(x="x"), call=lambda g, ctx, x, **kw: invoke(g.load_classifier, kw)(x)),
        E("load_mnist_idx", D, lambda c: dict(directory=c.mnist_dir), dict(directory="path"),
          skip=("directory:truncated .npz",),
          extra=[Bad("directory", "label 255", lambda v, c: c.mnist_bad_label_dir, names=("label", "255")),
                 Bad("directory", "truncated image file", lambda v, c: _truncated_idx(c), names=("train-images",))]),
        E("load_mnist_subset", D, lambda c: dict(n_test=10, seed=0), dict(n_test="count"),
          extra=[Bad("n_test", "10**6 (more than the subset)", _const(10 ** 6)), Bad("seed", "'abc'", _const("abc")),
                 Bad("seed", "2.5", _const(2.5))]),
        E("load_cifar10", D, lambda c: dict(directory=c.cifar_dir, grayscale=True), dict(directory="path", grayscale="flag"),
          skip=("directory:truncated .npz",)),
        E("load_photographs", D, lambda c: dict(names=("camera",)), {},
          extra=[Bad("names", "('nonexistent',)", _const(("nonexistent",))), Bad("names", "'camera' (a str)", _const("camera")),
                 Bad("names", "None", _const(None)), Bad("names", "()", _const(()))]),
        E("natural_image_patches", D, lambda c: dict(n=4, size=4, seed=0, border=8, f0=0.4, names=("camera",)),
          dict(n="size", size="size", seed="seed", border="count0", f0="pos"),
          extra=[Bad("names", "('nonexistent',)", _const(("nonexistent",))), Bad("size", "10**5 (bigger than the image)",
                                                                                  _const(10 ** 5))]),
        E("whiten", D, lambda c: dict(image=np.random.default_rng(0).uniform(size=(8, 8)), f0=0.4),
          dict(image="x", f0="pos"), skip=("image:one short",)),
        E("nearest_other_class", D, lambda c: dict(images=c.x, labels=np.array([0, 1]), index=0),
          dict(images="x", labels="lab", index="index"),
          accept={"images:one short": ("valid: images of D - 1 pixels; with two images of classes 0, 1 the nearest "
                                       "other-class image of image 0 is image 1", same_as_base)}),
        E("same_class_pairs", D, lambda c: dict(labels=np.array([0, 1, 0, 1, 0]), n_pairs=3, seed=0),
          dict(labels="lab", n_pairs="count", seed="seed"), skip=("labels:one short", "labels:99 (out of range)"),
          extra=[Bad("allowed", "mask one short", _const(np.array([True, True, False, True])))]),
        E("class_means", D, lambda c: dict(x=c.x, y=np.array([0, 1]), num_classes=3),
          dict(x="x", y="lab", num_classes="size"),
          accept={"x:one short": ("valid: images of D - 1 pixels give means (num_classes, D - 1), NaN rows for "
                                  "classes without images as documented", lambda out, base: None if np.shape(out) == (3, 3)
                                  and np.allclose(np.asarray(out)[:2], np.asarray(base)[:2, :3]) else "not the base means "
                                  "without their last pixel")}),
        E("save_survey", D, lambda c: dict(results=c.survey, path=c.tmp / "saved-survey.npz"), {},
          extra=[Bad("results", "None", _const(None)), Bad("results", "'abc'", _const("abc")),
                 Bad("path", "a directory", lambda v, c: c.tmp), Bad("path", "None", _const(None))]),
        E("load_survey", S, lambda c: dict(path=c.survey_file), dict(path="path")),
        E("survey_significance", S, lambda c: dict(surveys={"d/linear": c.survey}, n_boot=20, confidence=0.95, seed=0),
          dict(n_boot="count", confidence="frac", seed="seed"),
          extra=[Bad("surveys", "None", _const(None)), Bad("surveys", "{}", _const({})),
                 Bad("surveys", "{'linear': survey} (no dictionary)", lambda v, c: {"linear": c.survey}),
                 Bad("surveys", "{'d/linear': 'abc'}", _const({"d/linear": "abc"})),
                 Bad("angles", "(80, 60) (lo > hi)", _const((80, 60))), Bad("angles", "60 (one number)", _const(60)),
                 Bad("angles", "(0, 200) (past 180)", _const((0, 200)))]),
        E("shared_planes_check", S, lambda c: dict(a=c.survey, b=c.survey, atol=1e-3), dict(atol="pos"),
          extra=[Bad("a", "None", _const(None)), Bad("b", "'abc'", _const("abc")),
                 Bad("b", "a survey with another seed", lambda v, c: c.g.run_survey(c.phi, "linear", 2, 1, 1, 1,
                                                                                   progress=False), names=("key",)),
                 Bad("b", "a survey of other neurons", lambda v, c: c.g.run_survey(
                     c.phi, "linear", np.array([int(n) for n in range(c.phi["phi"].shape[1])
                                                if n not in set(np.asarray(c.survey.neurons).tolist())][:1]),
                     1, 1, 0, progress=False), names=("common",))]),
        E("holm_adjust", S, lambda c: dict(p_values=np.array([0.01, 0.04, 0.03])), dict(p_values="x"),
          accept={"p_values:one short": ("valid: fewer p-values, adjusted among themselves", None),
                  "p_values:NaN inside": ("documented: NaN stay NaN and do not count", None)}),
        E("save_comparison", F, lambda c: dict(path=c.tmp / "saved-cmp.npz", results=c.results, metadata=None), {},
          extra=[Bad("results", "None", _const(None)), Bad("results", "{'a': 'abc'}", _const({"a": "abc"})),
                 Bad("path", "a directory", lambda v, c: c.tmp), Bad("metadata", "'abc'", _const("abc"))]),
        E("load_comparison", F, lambda c: dict(path=c.comparison_file), dict(path="path"),
          extra=[Bad("path", "a survey file", lambda v, c: c.survey_file)]),
        # ------------------------------------------------------------------ attacks
        E("fgsm", A, lambda c: dict(logits_fn=c.logits, x=c.x, y=c.y, eps=0.1, norm="inf", target=None, clip=True),
          dict(logits_fn="fn", x="x", y="lab", eps="nonneg", norm="name", clip="flag")),
        E("pgd", A, lambda c: dict(logits_fn=c.logits, x=c.x, y=c.y, eps=0.1, steps=3, step_size=0.05, norm="inf",
                                   target=None, key=None),
          dict(logits_fn="fn", x="x", y="lab", eps="nonneg", steps="steps", step_size="pos", norm="name",
               key="key?", target="lab?"),
          skip=("steps:0",)),
        E("carlini_wagner", A, lambda c: dict(logits_fn=c.logits, x=c.x, target=c.target, c=1.0, steps=3,
                                              learning_rate=0.01, kappa=0.0, search_steps=1),
          dict(logits_fn="fn", x="x", target="lab", c="pos", steps="steps", learning_rate="pos", kappa="nonneg",
               search_steps="count")),
        E("deepfool", A, lambda c: dict(logits_fn=c.logits, x=c.x, steps=3, overshoot=0.02),
          dict(logits_fn="fn", x="x", steps="steps", overshoot="nonneg")),
        E("targeted_sign_attack", A, lambda c: dict(logits_fn=c.logits, x=c.x, target=c.target, step_size=0.01,
                                                    max_steps=3, confidence=0.9),
          dict(logits_fn="fn", x="x", target="lab", step_size="pos", max_steps="steps", confidence="frac"),
          accept={"max_steps:0": ("documented (max_steps in [0, MAX_STEPS]): no step; reached says whether the target "
                                  "is already at the confidence",
                                  lambda out, base: None if (np.all(np.asarray(out.steps) == 0) and np.array_equal(
                                      np.asarray(out.reached), np.asarray(out.target_prob) >= np.float32(0.9)))
                                  else "steps not 0 or reached not target_prob >= confidence")}),
        E("msd_at_confidence", A, lambda c: dict(logits_fn=c.logits, x=c.x, target=c.target, step_size=0.01,
                                                 max_steps=3, confidence=0.9),
          dict(logits_fn="fn", x="x", target="lab", step_size="pos", max_steps="steps", confidence="frac"),
          accept={"max_steps:0": ("documented (max_steps in [0, MAX_STEPS]): no step; MSD 0 where the target is "
                                  "already at the confidence, NaN elsewhere",
                                  lambda out, base: None if (np.all(np.asarray(out.steps) == 0) and np.array_equal(
                                      np.isnan(np.asarray(out.msd)), ~np.asarray(out.reached)) and np.all(
                                      np.asarray(out.msd)[np.asarray(out.reached)] == 0)) else "steps or msd not as "
                                  "documented")}),
        E("attack_success", A, lambda c: dict(logits_fn=c.logits, x_adv=c.x, y=c.y),
          dict(logits_fn="fn", x_adv="x", y="lab"),
          extra=[Bad("target", "given with y too", lambda v, c: c.target, names=("y", "target"))]),
        E("perturbation_norm", A, lambda c: dict(x_adv=c.x + 0.1, x=c.x, norm="2"),
          dict(x_adv="x", x="x", norm="name")),
        E("mean_squared_distance", A, lambda c: dict(x_adv=c.x + 0.1, x=c.x), dict(x_adv="x", x="x")),
        E("gradient_ascent_path", A, lambda c: dict(response_fn=c.fb, x=c.x, step_size=0.1, steps=3),
          dict(response_fn="fn", x="x", step_size="pos", steps="steps"),
          accept={"steps:0": ("documented (steps in [0, MAX_STEPS]): the path of one point, x",
                              lambda out, base: None if (np.shape(out) == (1,) + np.shape(base)[1:] and np.array_equal(
                                  np.asarray(out)[0], np.asarray(base)[0])) else "not the one-point path x[None]"),
                  "x:one short": ("x may have any D that the response takes (this one reads x[..., :2]; its output "
                                  "shape is checked): a valid batch of D = 3",
                                  lambda out, base: None if (np.shape(out) == np.shape(base)[:2] + (3,) and np.allclose(
                                      np.asarray(out)[0], np.asarray(base)[0][:, :3])) else "not a path from x")}),
        E("step_contour_cosines", A, lambda c: dict(response_fn=c.fb, path=c.path),
          dict(response_fn="fn", path="x"), extra=[Bad("path", "one point (T = 0)", lambda v, c: np.asarray(v)[:1])],
          accept={"path:one short": ("path may have any D that the response takes (this one reads x[..., :2]): a "
                                     "valid path of D = 3",
                                     lambda out, base: None if np.shape(out) == np.shape(base) else "another shape")}),
        E("target_log_probability", A, lambda c: dict(logits_fn=c.logits, target=c.target),
          dict(logits_fn="fn", target="lab"), call=_target_lp_eval),
        E("adversarial_direction", A, lambda c: dict(logits_fn=c.logits, x=c.x[0], target=None),
          dict(logits_fn="fn", x="x", target="lab?"),
          skip=("target:one short",),
          extra=[Bad("target", "99 (out of range)", _const(99)), Bad("target", "-1", _const(-1))]),
        E("apgd", A, lambda c: dict(logits_fn=c.logits, x=c.x, y=c.y, eps=0.1, norm="inf", loss="ce", target=None,
                                    steps=3, restarts=1, key=None),
          dict(logits_fn="fn", x="x", y="lab", eps="nonneg", norm="name", loss="name", steps="steps",
               restarts="count", key="key?", target="lab?"),
          extra=[Bad("surrogate", "'abc'", _const("abc")), Bad("clip", "'no'", _const("no"))]),
        E("apgd_targeted", A, lambda c: dict(logits_fn=c.logits, x=c.x, y=c.y, eps=0.1, norm="inf", n_targets=2,
                                             steps=3, restarts=1, key=None),
          dict(logits_fn="fn", x="x", y="lab", eps="nonneg", norm="name", n_targets="count", steps="steps",
               restarts="count", key="key?"),
          extra=[Bad("surrogate", "'abc'", _const("abc"))]),
        E("square_attack", A, lambda c: dict(logits_fn=c.logits, x=c.x, y=c.y, eps=0.1, norm="inf", queries=5,
                                             p_init=0.8, key=None),
          dict(logits_fn="fn", x="x", y="lab", eps="nonneg", norm="name", queries="steps", p_init="frac",
               key="key?"),
          extra=[Bad("image_shape", "(3, 3) (not D = 4)", _const((3, 3)), names=("image_shape", "D")),
                 Bad("image_shape", "'abc'", _const("abc"))]),
        E("ascent_to_level", A, lambda c: dict(f=c.f, x=c.x[0], level=1.0, step_size=0.1, max_steps=5),
          dict(f="fn", x="x", level="real", step_size="pos", max_steps="steps"),
          accept={"x:one short": ("x may have any D the response takes (this one reads x[0], x[1] and the rest): a "
                                  "valid start of D = 3", lambda out, base: None if np.shape(out.path)[1:] == (3,)
                                  else "not a path of D = 3")}),
        E("path_contour_curvature", A, lambda c: dict(f=c.f, path=c.path[:, 0], in_plane=c.plane),
          dict(f="fn", path="x:noshape", in_plane="plane?")),
        E("toy_circuits", A, lambda c: dict(params=c.phi, index=0, lam=0.1, temperature=0.03, steps=5, eta=0.1),
          dict(params="phi", index="index", lam="nonneg", temperature="pos", steps="steps", eta="frac"),
          accept={"params:phi transposed": ("a transposed phi (3, 4) is another dictionary: D = 3 inputs, N = 4 "
                                            "atoms; the three circuits of its unit 0",
                                            lambda out, base: None if sorted(out) == sorted(base) else
                                            "not the three circuits")}),
        E("toy_attacks", A, lambda c: dict(params={"phi": c.phi["phi"][:2]
                                                   / _np().linalg.norm(c.phi["phi"][:2], axis=0)},
                                           index=0, lam=0.1, start=_np().array([0.1, 0.2], _np().float32),
                                           coords=_np().zeros((3, 3, 2), _np().float32), level=0.3, step_size=0.05,
                                           max_steps=5, steps=5),
          dict(index="index", lam="nonneg", start="x", coords="x", level="real", step_size="pos",
               max_steps="steps", steps="steps"),
          extra=[Bad("params", "None", _const(None)), Bad("params", "'abc'", _const("abc"))]),
        E("plane_attacks", A, lambda c: dict(models={"m": c.g.single_image_response(c.logits)}, x=c.x[0], target=1,
                                             template=c.means[1], direction=c.means[1] - c.means[0], confidence=0.9,
                                             step_size=0.1, max_steps=3, n=5),
          dict(x="x", template="x", direction="x", confidence="frac", step_size="pos", max_steps="steps",
               n="size"),
          extra=[Bad("models", "None", _const(None)), Bad("models", "{} (empty)", _const({})),
                 Bad("target", "99 (out of range)", _const(99)), Bad("target", "'abc'", _const("abc")),
                 Bad("template", "x itself", lambda v, c: c.x[0]),
                 Bad("direction", "zero", lambda v, c: 0 * c.means[0])]),
        # ------------------------------------------------------------------ robustness
        E("robust_accuracy", R, lambda c: dict(logits_fn=c.logits, x=c.x, y=c.y, eps=0.1, norm="inf",
                                               attacks=("apgd-ce", "apgd-t", "square"), steps=3, restarts=1,
                                               n_targets=1, queries=5, key=None),
          dict(logits_fn="fn", x="x", y="lab", eps="nonneg", norm="name", steps="steps", restarts="count",
               n_targets="count", queries="steps", key="key?"),
          extra=[Bad("attacks", "('nonexistent',)", _const(("nonexistent",))),
                 Bad("attacks", "'apgd-ce' (a string, not a sequence of names)", _const("apgd-ce")),
                 Bad("attacks", "() (none)", _const(())),
                 Bad("attacks", "(('x', 3),) (not a function)", _const((("x", 3),))),
                 Bad("surrogates", "'abc'", _const("abc")),
                 Bad("image_shape", "(3, 3) (not D = 4)", _const((3, 3)), names=("image_shape", "D"))]),
        E("bpda_logits", R, lambda c: dict(logits_fn=c.logits, surrogate_fn=c.smooth),
          dict(logits_fn="fn", surrogate_fn="fn")),
        E("lca_bpda", R, lambda c: dict(params=c.lcaparams, lca_steps=5, temperature=None),
          dict(lca_steps="steps", temperature="pos?"),
          extra=[Bad("params", "None", _const(None)), Bad("params", "'abc'", _const("abc")),
                 Bad("params", "an MLP without 'lca'", lambda v, c: c.cparams, names=("lca",))]),
        E("lca_implicit_logits", R, lambda c: dict(params=c.lcaparams, lca_steps=5, cg_steps=5),
          dict(lca_steps="steps", cg_steps="steps"),
          extra=[Bad("params", "None", _const(None)),
                 Bad("params", "an MLP without 'lca'", lambda v, c: c.cparams, names=("lca",))]),
        E("steps_sweep", R, lambda c: dict(params=c.lcaparams, x=c.x, y=c.y, eps=0.1, attacker_steps=(2, 3),
                                           defender_steps=3, adaptive=("bpda",), attack=c.g.pgd_attack(2),
                                           norm="inf", key=None),
          dict(x="x", y="lab", eps="nonneg", defender_steps="steps", norm="name", key="key?"),
          extra=[Bad("attacker_steps", "(0,)", _const((0,))), Bad("attacker_steps", "'abc'", _const("abc")),
                 Bad("adaptive", "('eot',)", _const(("eot",))), Bad("attack", "'abc'", _const("abc")),
                 Bad("params", "an MLP without 'lca'", lambda v, c: c.cparams, names=("lca",))]),
        E("transfer_attack", R, lambda c: dict(source_fn=c.logits, attack=None), dict(source_fn="fn"),
          extra=[Bad("attack", "'abc'", _const("abc"))]),
        E("surrogate_attack", R, lambda c: dict(surrogate_fn=c.smooth, attack=None), dict(surrogate_fn="fn"),
          extra=[Bad("attack", "'abc'", _const("abc"))]),
        E("pgd_attack", R, lambda c: dict(steps=3, restarts=1), dict(steps="steps", restarts="count")),
        E("robustness_checks", R, lambda c: dict(logits_fn=c.logits, x=c.x, y=c.y, eps=0.1, norm="inf",
                                                 attack="auto", steps=3, tol=0.01, key=None, verbose=False),
          dict(logits_fn="fn", x="x", y="lab", eps="pos", norm="name", attack="name", steps="steps", tol="nonneg",
               key="key?", verbose="flag"),
          extra=[Bad("transfer_from", "'abc'", _const("abc")), Bad("eps_unbounded", "-1.0", _const(-1.0))]),
        E("zero_gradient_fraction", R, lambda c: dict(logits_fn=c.logits, x=c.x, y=c.y),
          dict(logits_fn="fn", x="x", y="lab")),
        E("minimal_perturbation", R, lambda c: dict(logits_fn=c.logits, x=c.x, y=c.y, norm="2",
                                                    methods=("deepfool", "cw", "search"), cw_targets=1, cw_steps=3,
                                                    cw_search_steps=1, search_rounds=2, search_steps=3, eps_max=None),
          dict(logits_fn="fn", x="x", y="lab", norm="name", cw_targets="count", cw_steps="steps",
               cw_search_steps="steps", search_rounds="steps", search_steps="steps", eps_max="pos?"),
          extra=[Bad("methods", "('nonexistent',)", _const(("nonexistent",))), Bad("methods", "() (none)", _const(()))]),
        E("accuracy_interval", R, lambda c: dict(correct=_np().array([True, False, True, True]), n_boot=20,
                                                 level=0.95, seed=0),
          dict(n_boot="count", level="frac", seed="seed"),
          extra=[Bad("correct", "None", _const(None)), Bad("correct", "'abc'", _const("abc")),
                 Bad("correct", "[0.5, 0.2] (not bools)", _const([0.5, 0.2])),
                 Bad("correct", "[] (no image)", _const([]))]),
        E("load_robustness_run", R, lambda c: dict(path=HERE.parent / "notebooks" / "results"
                                                   / "robustness-mnist-200.npz"), dict(path="path"),
          extra=[Bad("path", "a survey file", lambda v, c: c.survey_file)]),
        E("model_attacks", R, lambda c: dict(name="mlp-2", steps=3, n_targets=1, queries=5),
          dict(name="name", steps="steps", n_targets="count", queries="steps")),
        E("accuracy_under_attack", R, lambda c: dict(logits_fn=c.logits, x=c.x, y=c.y, eps_list=[0.0, 0.1], steps=2,
                                                     step_size_factor=2.5, norm="inf", key=None),
          dict(logits_fn="fn", x="x", y="lab", eps_list="floats", steps="steps", step_size_factor="pos",
               norm="name", key="key?")),
        E("gaas_basis", R, lambda c: dict(g=c.x, k=2), dict(g="x", k="size"),
          extra=[Bad("k", "5 (> D)", _const(5))],
          accept={"g:one short": ("g is a batch of gradients of any D >= k: a valid (2, 3) batch",
                                  lambda out, base: None if (np.shape(out) == (2, 2, 3) and np.allclose(
                                      np.einsum("bid,bjd->bij", out, out), np.eye(2), atol=1e-5))
                                  else "not 2 orthonormal directions of D = 3")}),
        E("gaas_directions", R, lambda c: dict(logits_fn=c.logits, x=c.x, y=c.y, k=2, eps=0.5, rank_tol=1e-3),
          dict(logits_fn="fn", x="x", y="lab", k="size", eps="pos", rank_tol="nonneg"),
          extra=[Bad("k", "5 (> D)", _const(5))]),
        E("orthogonal_adversarial_directions", R, lambda c: dict(logits_fn=c.logits, x=c.x, y=c.y, k=2, eps=0.5,
                                                                 steps=2, step_size=None, alternations=2),
          dict(logits_fn="fn", x="x", y="lab", k="size", eps="pos", steps="steps", step_size="pos?",
               alternations="count"),
          extra=[Bad("k", "5 (> D)", _const(5))],
          accept={"steps:0": ("documented (steps in [0, MAX_STEPS]): no perturbation, so delta 0 and no success",
                              lambda out, base: None if (np.all(np.asarray(out.delta) == 0) and not np.any(
                                  np.asarray(out.success))) else "a perturbation or a success with no step")}),
        E("template_cosine", R, lambda c: dict(x_adv=c.x + 0.1, x=c.x, source=c.y, target=c.target, means=c.means),
          dict(x_adv="x", x="x", source="lab", target="lab", means="x")),
        E("classifier_accuracy", R, lambda c: dict(logits_fn=c.logits, x=c.x, y=c.y, batch_size=500),
          dict(logits_fn="fn", x="x", y="lab", batch_size="chunk")),
        # ------------------------------------------------------------------ boundary
        E("top_two", B, lambda c: dict(logits_fn=c.logits, x=c.x), dict(logits_fn="fn", x="x")),
        E("decision_function", B, lambda c: dict(logits_fn=c.logits, i=0, j=1), dict(logits_fn="fn", i="index",
                                                                                      j="index?"),
          call=_decision_eval, extra=[Bad("j", "equal to i", _const(0))]),
        E("boundary_point", B, lambda c: dict(logits_fn=c.logits, x=c.x, x_far=c.far, iters=5),
          dict(logits_fn="fn", x="x", x_far="x", iters="steps")),
        E("boundary_curvatures", B, lambda c: dict(logits_fn=c.smooth, x=c.x, k=1, steps=5, overshoot=0.02, which="LM",
                                                   tol=1e-3, iterations=3, chunk=16),
          dict(logits_fn="fn", x="x", k="size", steps="steps", overshoot="nonneg", which="name", tol="pos",
               iterations="steps", chunk="chunk"),
          accept={"iterations:2**31": ("documented: iterations is capped at D - 1 (here 3, the base call's count)",
                                       same_as_base)},
          extra=[Bad("k", "3 (>= D - 1)", _const(3))]),
        E("plane_logits", B, lambda c: dict(logits_fn=c.logits, plane=c.plane, coords=c.coords),
          dict(logits_fn="fn", plane="plane", coords="x")),
        E("straight_line_walk", B, lambda c: dict(logits_fn=c.logits, x0=c.x[0], x1=c.x[1], n=5, label=None),
          dict(logits_fn="fn", x0="x", x1="x", n="size", label="lab?"),
          extra=[Bad("n", "1", _const(1)), Bad("label", "99", _const(99))]),
        E("logit_bend", B, lambda c: dict(logits_fn=c.smooth, x=c.x, boundary=c.far, label=c.y, other=c.target,
                                          key=0, n_b=4, iterations=2, chunk=64),
          dict(logits_fn="fn", x="x", boundary="x", label="lab", other="lab", key="key", n_b="size",
               iterations="steps", chunk="chunk")),
        # ------------------------------------------------------------------ classifiers
        E("classifier_logits", C, lambda c: dict(params=c.cparams, x=c.x, lca_steps=75, smooth_temperature=None),
          dict(params="layers", x="x", lca_steps="steps", smooth_temperature="pos?"),
          extra=[Bad("params", "{} (no 'layers')", _const({}), names=("layers",)),
                 Bad("params", "'lca' without 'phi'", lambda v, c: {**v, "lca": {"lam": 0.1, "eta": 0.1}},
                     names=("phi",))]),
        E("bind_classifier", C, lambda c: dict(params=c.cparams, lca_steps=75, smooth_temperature=None),
          dict(params="layers", lca_steps="steps", smooth_temperature="pos?"), call=_bind_eval),
        E("mlp", C, lambda c: dict(params=c.mlp_layers, x=c.x[0], nonlinearity="softplus", temperature=1.0),
          dict(params="layers", x="x", nonlinearity="name", temperature="pos")),
        # ------------------------------------------------------------------ survey
        E("survey_planes", S, lambda c: dict(params=c.phi, neurons=np.array([0, 1]), n_comparison=1, n_random=1, key=0,
                                             min_angle_deg=15.0),
          dict(params="phi", neurons="lab", n_comparison="count0", n_random="count0", key="key",
               min_angle_deg="nonneg"),
          skip=("neurons:float labels",),
          accept={"params:phi transposed": ("a (3, 4) phi is a valid dictionary of 4 neurons in D = 3: planes in R^3",
                                            lambda out, base: None if np.shape(out.planes.u)[-1] == 3 else "not D = 3"),
                  "neurons:one short": ("one neuron index is a valid selection: planes of one neuron",
                                        lambda out, base: None if np.shape(out.planes.u)[0] == 1 else "not 1 neuron")},
          extra=[Bad("min_angle_deg", "90", _const(90.0)), Bad("n_comparison", "5 (> N - 1)", _const(5)),
                 Bad("neurons", "float indices", _const(np.array([0.5, 1.5])))]),
        E("run_survey", S, lambda c: dict(params=c.phi, model="linear", neurons=2, n_comparison=1, n_random=1, key=0,
                                          lam=0.15, steps=3, eta=0.1, level=0.5, extent=2.0, n_b=4, iterations=2,
                                          n_edge=3, weighting="arclength", min_angle_deg=15.0, chunk_size=256,
                                          progress=False, distribute=True),
          dict(params="phi", model="name", neurons="size", n_comparison="count0", n_random="count0", key="key",
               lam="nonneg", steps="steps", eta="pos", level="frac", extent="pos", n_b="size", iterations="steps",
               n_edge="size", weighting="name", min_angle_deg="nonneg", chunk_size="chunk", distribute="flag"),
          accept={"params:phi transposed": ("a (3, 4) phi is a valid dictionary of 4 neurons in D = 3: c2 of 2 neurons",
                                            lambda out, base: None if np.shape(out.c2) == (2, 2) else "not (2, 2)"),
                  "neurons:None": ("None means every neuron (documented): c2 of all 3",
                                   lambda out, base: None if np.shape(out.c2)[0] == 3 else "not 3 neurons")},
          extra=[Bad("lam", "nan with model='lca'", _const(NAN)),
                 Bad("temperature", "-1", _const(-1.0)), Bad("sigma", "0", _const(0.0)),
                 Bad("neurons", "index 7 (N = 3)", _const(np.array([0, 7])))]),
        E("contour_bend", S, lambda c: dict(f=c.f, planes=c.planes, level=0.5, extent=2.0, n_b=4, iterations=2,
                                            n_edge=3, weighting="arclength", chunk_size=256),
          dict(f="fn", planes="plane", level="frac", extent="pos", n_b="size", iterations="steps", n_edge="size",
               weighting="name", chunk_size="chunk"),
          accept={"planes:Plane of another D": ("f is defined on every R^D, the plane sets D: one bend (NaN when "
                                                "no contour crosses the window, documented)",
                                                lambda out, base: None if np.shape(out.c2) == () else "not one plane")},
          extra=[Bad("n_b", "2 (< 3)", _const(2)), Bad("n_edge", "1 (< 2)", _const(1))]),
        E("response_attenuation", S, lambda c: dict(f=c.f, planes=c.planes, a=1.0, extent=2.0, n=5),
          dict(f="fn", planes="plane", a="real", extent="pos", n="size"),
          accept={"planes:Plane of another D": ("f is defined on every R^D, the plane sets D: one plane's values",
                                                lambda out, base: None if np.shape(out[0]) == () else "not one plane")},
          extra=[Bad("n", "2 (< 3)", _const(2))]),
        E("gauss_rows", S, lambda c: dict(n_b=4, b_range=(-2.0, 2.0)), dict(n_b="size"),
          extra=[Bad("b_range", "(nan, 2)", _const((NAN, 2.0))), Bad("b_range", "(2, -2) reversed", _const((2.0, -2.0))),
                 Bad("b_range", "'abc'", _const("abc")), Bad("b_range", "None", _const(None))]),
        E("first_layer_survey", S, lambda c: dict(logits_fn=c.logits, neurons=2, n_comparison=1, n_random=1, key=0),
          dict(logits_fn="fn", neurons="size", n_comparison="count0", n_random="count0", key="key")),
        E("SurveyResult.values", S, lambda c: dict(self=c.survey, kind=None), dict(kind="name?"), call=_m("values")),
        E("SurveyResult.median", S, lambda c: dict(self=c.survey, kind=None), dict(kind="name?"), call=_m("median")),
        E("SurveyResult.fraction_exo", S, lambda c: dict(self=c.survey, kind=None), dict(kind="name?"),
          call=_m("fraction_exo")),
        E("SurveyResult.fraction_valid", S, lambda c: dict(self=c.survey, kind=None), dict(kind="name?"),
          call=_m("fraction_valid")),
        E("SurveyResult.save", S, lambda c: dict(self=c.survey, path=c.tmp / "method-saved.npz"), {},
          call=_m("save"), extra=[Bad("path", "a directory", lambda v, c: c.tmp), Bad("path", "None", _const(None))]),
        # ------------------------------------------------------------------ defense
        E("measure_classifier", F, lambda c: dict(logits_fn=c.logits, smooth_fn=c.smooth, x=c.x, y=c.y, target=c.target,
                                                  means=c.means, **TINY_MEASURE),
          dict(x="x", y="lab", target="lab", means="x", pgd_steps="steps", k="size", lanczos_iterations="steps",
               msd_step="pos", msd_steps="steps", confidence="frac", eps="floats"),
          skip=("x:one short",),
          extra=[Bad("survey", "(2, 1) (two numbers)", _const((2, 1))), Bad("survey", "(0, 1, 1)", _const((0, 1, 1))),
                 Bad("survey", "'abc'", _const("abc")),
                 Bad("target", "equal to y", lambda v, c: c.y),
                 Bad("logits_fn", "None", _const(None)), Bad("smooth_fn", "'abc'", _const("abc")),
                 Bad("y", "wrong labels (misclassified images)", lambda v, c: (np.asarray(v) + 2) % 3),
                 Bad("bpda_fn", "'abc'", _const("abc"))]),
        E("compare_classifiers", F, lambda c: dict(models={"a": (c.logits, c.smooth)}, x=c.x, y=c.y, target=c.target,
                                                   means=c.means, progress=False, **TINY_MEASURE),
          dict(x="x", y="lab"),
          skip=("x:one short",),
          extra=[Bad("models", "{} (none)", _const({})), Bad("models", "{'a': logits_fn} (not a pair)",
                                                             lambda v, c: {"a": c.logits}, names=("a",)),
                 Bad("models", "None", _const(None)),
                 Bad("misclassified", "'skip' (not a policy)", _const("skip")),
                 Bad("misclassified", "True (not a policy name)", _const(True)),
                 Bad("bpda", "{'zzz': fn} (not a model)", lambda v, c: {"zzz": c.logits}, names=("zzz",)),
                 Bad("nonexistent_option", "1 (unknown keyword)", _const(1))]),
        E("shared_digits_check", F, lambda c: dict(a=(c.results, {"data": "mnist", "images": list(range(len(c.y))),
                                                                  "targets": [int(t) for t in c.target]}),
                                                   b=(c.results, {"data": "mnist", "images": list(range(len(c.y))),
                                                                  "targets": [int(t) for t in c.target]}),
                                                   rtol=1e-3),
          dict(rtol="pos"),
          extra=[Bad("a", "None", _const(None)), Bad("b", "the results alone (no metadata)", lambda v, c: c.results),
                 Bad("a", "metadata without images", lambda v, c: (c.results, {"data": "mnist"})),
                 Bad("b", "other digits", lambda v, c: (c.results, {"data": "mnist", "images": [500, 501],
                                                                    "targets": [1, 2]}), names=("nothing",)),
                 Bad("b", "{'a': 'abc'} (not measures)", lambda v, c: ({"a": "abc"}, v[1]))]),
        E("comparison_summary", F, lambda c: dict(results=c.results, statistics=None), {},
          extra=[Bad("statistics", "['nonexistent']", _const(["nonexistent"])), Bad("statistics", "'msd' (a str)",
                                                                                    _const("msd")),
                 Bad("results", "None", _const(None)), Bad("results", "{}", _const({}))]),
        E("rank_correlation", F, lambda c: dict(results=c.results, x_stat="msd", y_stat="deepfool_distance", n_boot=20,
                                                level=0.95, seed=0, models=None),
          dict(x_stat="name", y_stat="name", n_boot="count", level="frac", seed="seed"),
          extra=[Bad("models", "['a', 'b'] (fewer than 3)", _const(["a", "b"])),
                 Bad("models", "['a', 'zzz']", _const(["a", "b", "zzz"]), names=("zzz",)),
                 Bad("results", "{} (none)", _const({}))]),
        E("seed_groups", F, lambda c: dict(results={"mlp-2": 1, "mlp-2-s1": 2, "linear": 3}), {},
          extra=[Bad("results", "None", _const(None)), Bad("results", "['mlp-2'] (a list)", _const(["mlp-2"]))]),
        E("seed_spread", F, lambda c: dict(groups={k: {"0": m, "1": m} for k, m in c.results.items()}, statistic="msd"),
          dict(statistic="name"),
          extra=[Bad("groups", "None", _const(None)), Bad("groups", "{}", _const({})),
                 Bad("groups", "{'a': {}} (no seeds)", _const({"a": {}})),
                 Bad("groups", "{'a': {'0': 1}} (not measures)", _const({"a": {"0": 1}}))]),
        E("hierarchical_rank_correlation", F, lambda c: dict(groups={k: {"0": m} for k, m in c.results.items()},
                                                             x_stat="msd", y_stat="deepfool_distance", n_boot=20,
                                                             level=0.95, n_perm=19, seed=0),
          dict(x_stat="name", y_stat="name", n_boot="count", level="frac", n_perm="count", seed="seed"),
          extra=[Bad("groups", "None", _const(None)), Bad("groups", "{}", _const({})),
                 Bad("groups", "two configurations", lambda v, c: dict(list(v.items())[:2]))]),
        E("per_image_correlation", F, lambda c: dict(measures=c.measures, x_field="msd", y_values=np.array([1.0, 2.0]),
                                                     n_boot=20, level=0.95, n_perm=19, seed=0),
          dict(x_field="name", y_values="x", n_boot="count", level="frac", n_perm="count", seed="seed"),
          accept={"y_values:NaN inside": ("documented: images with a NaN value are dropped and counted in n_dropped",
                                          lambda out, base: None if out.n_dropped >= max(1, base.n_dropped)
                                          else f"n_dropped {out.n_dropped}")},
          extra=[Bad("measures", "None", _const(None)), Bad("measures", "'abc'", _const("abc"))]),
        E("quadric_distance", F, lambda c: dict(r=np.array([1.0, 3.0]), kappa=np.array([[0.5, 0.0], [0.5, -1.0]])),
          dict(r="x", kappa="x"),
          accept={"r:NaN inside": ("documented: NaN distance in, NaN out at that entry only",
                                   lambda out, base: None if np.isnan(out[0]) and out[1] == base[1] else "not NaN"),
                  "kappa:NaN inside": ("documented: a NaN curvature (not converged) is ignored among the others",
                                       lambda out, base: None if np.allclose(out, base) else "differs"),
                  "kappa:one short": ("valid: one curvature per point instead of two (k is free)",
                                      _shape_check(lambda out: np.shape(out), (2,)))},
          extra=[Bad("r", "[-1, 3] (negative)", _const(np.array([-1.0, 3.0]))),
                 Bad("kappa", "inf inside", _with(INF))]),
        E("prediction_test", F, lambda c: dict(r=np.array([1.0, 3.0, 2.0]), kappa=np.array([[0.5], [0.5], [-1.0]]),
                                               found=np.array([1.0, 2.0, 2.5])),
          dict(r="x", kappa="x", found="x"),
          accept={f"{a}:NaN inside": ("documented: an image with a NaN value is dropped and counted in n_dropped",
                                      lambda out, base: None if out.n_dropped == 1 else f"n_dropped {out.n_dropped}")
                  for a in ("r", "found")} | {
                  "kappa:NaN inside": ("documented: a NaN curvature (not converged) is ignored; an image with "
                                       "none converged is dropped",
                                       lambda out, base: None if out.n_dropped == 1 else f"n_dropped {out.n_dropped}")},
          extra=[Bad("found", "[-1, 2, 2.5] (negative)", _const(np.array([-1.0, 2.0, 2.5])))]),
        E("smooth_temperatures", F, lambda c: dict(lam=0.25, factors=(5, 10, 20)), dict(lam="pos?", factors="floats"),
          extra=[Bad("factors", "() (none)", _const(())), Bad("factors", "(5, 5) (repeated)", _const((5, 5))),
                 Bad("factors", "(0,)", _const((0,)))]),
        E("temperature_curvatures", F, lambda c: dict(model=lambda t, c=c: c.g.bind_classifier(c.cparams,
                                                                                            smooth_temperature=t),
                                                      x=c.x, lam=0.25, factors=(5, 10), k=1, iterations=3, tol=1e-3),
          dict(x="x", lam="pos?", factors="floats", k="size", iterations="steps", tol="pos"),
          accept={"iterations:2**31": ("documented: Lanczos steps are capped at D - 1 (boundary_curvatures); "
                                       "here D - 1 = 3, the base call's count", same_as_base)},
          extra=[Bad("model", "3 (not a name or callable)", _const(3)), Bad("model", "'' (empty name)", _const("")),
                 Bad("model", "'nonexistent' (no such classifier)", _const("nonexistent")),
                 Bad("k", "3 (> D - 2)", _const(3)), Bad("iterations", "0 (< k)", _const(0)),
                 Bad("model", "T -> 'abc' (not a classifier)", _const(lambda t: "abc"))]),
        E("temperature_summary", F, lambda c: dict(curvatures=c.temperature_curvatures, bend=None,
                                                   factors=(5, 10), n_perm=19, seed=0),
          dict(factors="floats", n_perm="count", seed="seed"),
          extra=[Bad("curvatures", "None", _const(None)), Bad("curvatures", "{}", _const({})),
                 Bad("curvatures", "two models", lambda v, c: dict(list(v.items())[:2])),
                 Bad("curvatures", "{'a': 1, ...} (not TemperatureCurvatures)",
                     lambda v, c: {k: 1 for k in v}),
                 Bad("bend", "{'a': 0.1} (models missing)", _const({"a": 0.1})),
                 Bad("bend", "a bend 'abc'", lambda v, c: {k: "abc" for k in c.temperature_curvatures}),
                 Bad("bend", "a bend inf", lambda v, c: {k: float("inf") for k in c.temperature_curvatures}),
                 Bad("bend", "'abc'", _const("abc")),
                 Bad("factors", "(5,) (one short)", _const((5,)))]),
        E("load_temperatures", F, lambda c: dict(path=c.temperatures_file), dict(path="path"),
          extra=[Bad("path", "a comparison file", lambda v, c: c.comparison_file, names=("comparison.npz",))]),
        # prediction_measures and predictions_to_file (below) on two digits at the same settings (the
        # command's, PREDICTION_SETTINGS): the second call reuses the first one's compiled kernels
        E("prediction_measures", F, lambda c: dict(model="linear", x=c.digits[0], y=c.digits[1], n_directions=32,
                                                   max_radius=100.0, grid=25, iters=12, cw_targets=2, seed=0),
          {},   # each call that is not rejected measures the model (~10 s): hand-picked variants only
          extra=[Bad("model", "'' (empty name)", _const("")), Bad("model", "3", _const(3)),
                 Bad("model", "'nonexistent' (no such classifier)", _const("nonexistent")),
                 Bad("x", "pixels 2", lambda v, c: v + 2), Bad("x", "shape (784,)", lambda v, c: v[0]),
                 Bad("y", "one label short", lambda v, c: v[:1]), Bad("y", "label 10", lambda v, c: v * 0 + 10),
                 Bad("temperature", "-1", _const(-1.0)), Bad("temperature", "nan", _const(NAN)),
                 Bad("n_directions", "0", _const(0)), Bad("max_radius", "0", _const(0.0)),
                 Bad("grid", "0", _const(0)), Bad("iters", "65", _const(65)), Bad("cw_targets", "0", _const(0)),
                 Bad("seed", "-1", _const(-1)), Bad("seed", "'abc'", _const("abc"))]),
        E("prediction_summary", F, lambda c: dict(measures=c.prediction_measures, dim=784), dict(dim="size"),
          extra=[Bad("measures", "None", _const(None)), Bad("measures", "{}", _const({})),
                 Bad("measures", "{'a': 1} (not PredictionMeasures)", _const({"a": 1})), Bad("dim", "1", _const(1))]),
        E("flat_noise_ratio", F, lambda c: dict(dim=784), dict(dim="size"), extra=[Bad("dim", "1", _const(1))]),
        E("load_predictions", F, lambda c: dict(path=c.prediction_file), dict(path="path"),
          extra=[Bad("path", "a comparison file", lambda v, c: c.comparison_file, names=("comparison.npz",))]),
        E("predictions_to_file", F, lambda c: dict(out=c.tmp / "p-out.npz", models=("linear",),
                                                   comparison=c.comparison_file_24, n_images=2, progress=False),
          {},   # a call that is not rejected measures a model: hand-picked variants only
          extra=[Bad("models", "('nonexistent',)", _const(("nonexistent",))), Bad("models", "()", _const(())),
                 Bad("n_images", "0", _const(0)), Bad("restart", "'yes'", _const("yes")),
                 Bad("progress", "'no'", _const("no")), Bad("command", "''", _const("")),
                 Bad("out", "None", _const(None)), Bad("comparison", "missing file",
                                                       lambda v, c: c.tmp / "nowhere.npz", names=("nowhere.npz",))]),
        E("noise_robustness", F, lambda c: dict(logits_fn=c.logits, x=c.x, y=c.y, radii=np.array([0.1, 1.0]),
                                                n_directions=3, key=c.key),
          dict(logits_fn="fn", x="x", y="lab", radii="floats", n_directions="count", key="key"),
          extra=[Bad("radii", "[] (none)", _const([]))]),
        E("noise_distance", F, lambda c: dict(logits_fn=c.logits, x=c.x, y=c.y, n_directions=3, key=c.key,
                                              max_radius=2.0, grid=4, iters=5),
          dict(logits_fn="fn", x="x", y="lab", n_directions="count", key="key", max_radius="pos", grid="count",
               iters="count"),
          extra=[Bad("iters", "65", _const(65))]),
        E("mnist_comparison", F, lambda c: dict(models=("linear",), n_images=2, seed=0, temperature=0.05, progress=False,
                                                **TINY_MEASURE),
          {},   # each call that is not rejected measures a model (~10 s): a few hand-picked variants only
          extra=[Bad("n_images", "0", _const(0)), Bad("n_images", "2.5", _const(2.5)),
                 Bad("temperature", "nan", _const(NAN)), Bad("seed", "'abc'", _const("abc")),
                 Bad("models", "('nonexistent',)", _const(("nonexistent",))), Bad("models", "'linear' (a str)",
                                                                                  _const("linear")),
                 Bad("models", "()", _const(())), Bad("n_images", "10**6 (more than the test set)", _const(10 ** 6)),
                 Bad("pgd_steps", "0", _const(0)), Bad("digits", "'some' (not a choice)", _const("some")),
                 Bad("digits", "None", _const(None)), Bad("bpda", "'yes' (not a bool)", _const("yes")),
                 Bad("bpda", "True without a worst case", _const(True)),
                 Bad("nonexistent_option", "1 (unknown keyword)", _const(1))]),
        E("cifar10_models", F, lambda c: dict(folder=c.cifar_dir, progress=False, **TINY_CIFAR), {},
          extra=[Bad("folder", "missing dir", lambda v, c: c.tmp / "nowhere", names=("nowhere",)),
                 Bad("folder", "an empty file", lambda v, c: c.empty_file, names=("empty.npz",)),
                 Bad("nonexistent_setting", "1 (unknown setting)", _const(1)),
                 Bad("n_train", "0", _const(0)), Bad("neurons", "2.5", _const(2.5)),
                 Bad("lam", "nan", _const(NAN)), Bad("hidden", "[0]", _const([0]))]),
    ]
    return entries


#: public callables with arguments that have no entry, and why
NOT_CATALOGUED: dict[str, str] = {
    "cifar10_comparison": "no tiny valid call (its models must classify held-out images right); its arguments "
                          "are those of cifar10_models and compare_classifiers, both catalogued",
}
TINY_CIFAR = dict(n_train=8, neurons=3, lam=0.5, steps=3, eta=0.1, batches=2, batch_size=4, dict_lr=0.005,
                  hidden=[3], epochs=1, seed=0)


def _copy_truncated(ctx, name):
    d = ctx.tmp / "truncated-params"
    d.mkdir(exist_ok=True)
    data = (ctx.params_dir / f"{name}.npz").read_bytes()
    (d / f"{name}.npz").write_bytes(data[: len(data) // 2])
    return d


def _copy_empty(ctx, name):
    d = ctx.tmp / "empty-params"
    d.mkdir(exist_ok=True)
    (d / f"{name}.npz").write_bytes(b"")
    return d


def _truncated_idx(ctx):
    d = write_idx_dir(ctx.tmp / "idx-truncated")
    p = d / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-5])
    return d


def _far(ctx):
    """For each image, a point of another class along the DeepFool direction (for boundary calls)."""
    np = _np()
    import jax.numpy as jnp
    x = np.asarray(ctx.x)
    y = np.asarray(ctx.y)
    rng = np.random.default_rng(7)
    far = x.copy()
    for i in range(len(x)):
        for _ in range(2000):
            cand = rng.uniform(-3, 4, size=x.shape[1]).astype(np.float32)
            if int(jnp.argmax(ctx.logits(cand))) != y[i]:
                far[i] = cand
                break
    return far


Ctx.make_far = _far


@dataclass
class Call:
    index: int
    entry: Entry
    bad: Bad | None         # None: the base call

    @property
    def func(self):
        return self.entry.name

    @property
    def arg(self):
        return self.bad.arg if self.bad else ""

    @property
    def label(self):
        return self.bad.label if self.bad else "(valid base call)"

    @property
    def expect(self):
        if self.bad is None:
            return "valid"
        return "accept" if self.bad.accept else "reject"

    def key(self):
        return f"{self.func} {self.arg}={self.label}"


def all_calls(only: set[str] | None = None) -> list[Call]:
    """The catalogue flattened to calls, base call first for each entry."""
    calls: list[Call] = []
    for entry in catalogue():
        if only and entry.name not in only:
            continue
        calls.append(Call(len(calls), entry, None))
        variants = [b for arg, kind in entry.kinds.items() for b in standard_variants(arg, kind)] + entry.extra
        for bad in variants:
            tag = f"{bad.arg}:{bad.label}"
            if tag in entry.skip:
                continue
            if tag in entry.accept:
                bad.accept, bad.check = entry.accept[tag]
            calls.append(Call(len(calls), entry, bad))
    return calls


GROUPS = ("planes/geometry", "LCA", "training", "data/IO", "attacks", "robustness", "boundary", "classifiers",
          "survey", "defense")


# ----------------------------------------------------------------------------- running one call (in the worker)


def summarise(out) -> str:
    """A short description of a returned value."""
    np = _np()
    try:
        import jax
        leaves = jax.tree_util.tree_leaves(out)
    except Exception:  # noqa: BLE001
        leaves = [out]
    if out is None:
        return "None"
    if isinstance(out, (str, Path)):
        return f"{type(out).__name__} {str(out)[:60]!r}"
    parts = []
    for leaf in leaves[:3]:
        try:
            a = np.asarray(leaf)
            if a.dtype.kind in "fciub":
                flat = a.reshape(-1)
                nan = f", {int(np.isnan(flat).sum())} NaN" if a.dtype.kind in "fc" and np.isnan(flat).any() else ""
                head = ", ".join(f"{v:.3g}" if a.dtype.kind in "fc" else str(v) for v in flat[:3])
                parts.append(f"{a.dtype}{list(a.shape)} [{head}{', ...' if flat.size > 3 else ''}]{nan}")
            else:
                parts.append(type(leaf).__name__)
        except Exception:  # noqa: BLE001
            parts.append(type(leaf).__name__)
    more = f" (+{len(leaves) - 3} more)" if len(leaves) > 3 else ""
    return f"{type(out).__name__}: " + "; ".join(parts) + more


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else "")[:300]


def names_argument(message: str, call: Call) -> bool:
    """Whether ``message`` names the argument: its name (or the measured function's own name for
    it, or one of the variant's other words, e.g. the file's path) as a whole word."""
    import re
    words = [call.arg, RENAMED.get(call.arg, ""), *call.bad.names] if call.bad else []
    return any(w and re.search(rf"(?<![A-Za-z0-9_]){re.escape(w)}(?![A-Za-z0-9_])", message, re.IGNORECASE)
               for w in words)


def names_file(message: str, value) -> bool:
    """For a file or directory argument: the message names the path it got."""
    if isinstance(value, (str, os.PathLike)) and os.sep in str(value):
        return str(value) in message
    return False


def run_call(call: Call, g, ctx, base_results: dict) -> dict:
    """Execute one call; return its JSON-able result record (kind among KINDS, or ok/fail for
    base calls and acceptable variants)."""
    import warnings
    import numpy as np
    entry = call.entry
    bad_value = None
    rec = {"index": call.index, "func": call.func, "group": entry.group, "arg": call.arg, "label": call.label,
           "expect": call.expect}
    t0 = time.perf_counter()
    if entry.optional and not hasattr(g, entry.name):
        rec.update(kind="absent", what=f"geomlib.{entry.name} does not exist here", seconds=0.0)
        return rec
    try:
        kwargs = entry.base(ctx)
        if call.bad is not None:
            base_value = kwargs.get(call.arg)
            kwargs[call.arg] = bad_value = call.bad.make(base_value, ctx)
        fn = entry.call or (lambda g_, ctx_, **kw: invoke(getattr(g_, entry.name), kw))
        RENAMED.clear()
    except Exception as exc:  # noqa: BLE001 - the catalogue itself failed
        rec.update(kind="setup-error", what=f"{type(exc).__name__}: {first_line(exc)}", seconds=0.0)
        return rec
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = fn(g, ctx, **kwargs)
            import jax
            jax.block_until_ready(jax.tree_util.tree_leaves(out)) if _has_arrays(out) else None
            exc = None
        except Exception as e:  # noqa: BLE001
            exc, out = e, None
    rec["seconds"] = round(time.perf_counter() - t0, 3)
    warned = [f"{w.category.__name__}: {str(w.message).splitlines()[0][:200]}" for w in caught]
    if warned:
        rec["warnings"] = warned[:3]
    if call.bad is None:
        if exc is None:
            base_results[entry.name] = out
            rec.update(kind="ok", what=summarise(out))
        else:
            rec.update(kind="fail", what=f"{type(exc).__name__}: {first_line(exc)}")
        return rec
    if exc is not None:
        msg = f"{type(exc).__name__}: {first_line(exc)}"
        named = names_argument(str(exc), call) or names_file(str(exc), bad_value)
        if isinstance(exc, (ValueError, TypeError)) and named:
            kind = "clear"
        elif isinstance(exc, FileNotFoundError) and (named or (isinstance(bad_value, str) and bad_value in str(exc))):
            kind = "clear"  # Python's own error for a missing file, naming it
        else:
            kind = "unclear"
    else:
        msg = "returned " + summarise(out)
        warned_naming = [w for w in warned if names_argument(w, call)]
        kind = "clear" if (call.bad.warn_ok and warned_naming) else "silent"
        if warned and kind == "silent":
            msg += f" (warning: {warned[0]})"
    rec.update(kind=kind, what=msg)
    if call.bad.accept:
        if exc is None and call.bad.check is not None:
            base = base_results.get(entry.name, None)
            try:
                problem = call.bad.check(out, base) if entry.name in base_results else "no base result"
            except Exception as e:  # noqa: BLE001
                problem = f"not comparable with the base result ({type(e).__name__}: {first_line(e)})"
        elif exc is None:
            problem = None
        else:
            problem = msg
        rec["accept_ok"] = problem is None
        rec["accept_problem"] = problem
        rec["reason"] = call.bad.accept
    del np
    return rec


def _has_arrays(out) -> bool:
    try:
        import jax
        return any(isinstance(leaf, jax.Array) for leaf in jax.tree_util.tree_leaves(out))
    except Exception:  # noqa: BLE001
        return False


def worker_main(root: str, only: list[str] | None) -> None:
    """Serve calls: read call indices from stdin, one per line; write one JSON line per result
    on the original stdout (the library's own prints go to stderr)."""
    sys.path.insert(0, root)
    try:   # a call that asks for 2**31 of something fails with MemoryError instead of exhausting a shared machine
        import resource
        resource.setrlimit(resource.RLIMIT_DATA, (WORKER_MEMORY, WORKER_MEMORY))
    except (ImportError, ValueError, OSError):
        pass
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import geomlib as g
    calls = all_calls(set(only) if only else None)
    out.write(json.dumps({"geomlib": g.__file__, "calls": len(calls)}) + "\n")
    with tempfile.TemporaryDirectory(prefix="bad-calls-") as tmp:
        ctx = Ctx(g, Path(tmp))
        base_results: dict = {}
        for line in sys.stdin:
            call = calls[int(line)]
            if call.bad is not None and call.expect == "accept" and call.entry.name not in base_results:
                run_call(Call(-1, call.entry, None), g, ctx, base_results)   # the result it is compared with
            rec = run_call(call, g, ctx, base_results)
            out.write(json.dumps(rec, default=str) + "\n")


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


class Runner:
    """Runs catalogue calls one at a time in a worker subprocess; a call that kills the worker
    (or outlasts ``timeout``) is a crash, and the next call starts a new worker."""

    def __init__(self, root: str | os.PathLike = DEFAULT_ROOT, only: list[str] | None = None, *,
                 timeout: float = CALL_TIMEOUT):
        self.root, self.only, self.timeout = str(root), only, timeout
        self.calls = all_calls(set(only) if only else None)
        self.proc = None
        self.geomlib_file = None
        self.restarts = 0

    def _start(self):
        env = dict(os.environ)
        env.setdefault("JAX_PLATFORMS", "cpu")
        env["PYTHONPATH"] = os.pathsep.join([self.root, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env.pop("PYTEST_XDIST_WORKER", None)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--root", self.root]
        if self.only:
            cmd += ["--only", ",".join(self.only)]
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
                                     text=True, env=env, cwd=self.root)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=_pump, args=(self.proc.stdout, self.lines), daemon=True).start()
        first = self.lines.get(timeout=600)
        if first is None:
            raise RuntimeError(f"bad_calls worker failed to start: {self._stderr_tail()}")
        hello = json.loads(first)
        self.geomlib_file = hello["geomlib"]
        if hello["calls"] != len(self.calls):
            self._stop()
            raise RuntimeError(f"the catalogue changed while running ({hello['calls']} calls, not {len(self.calls)})")

    def _stderr_tail(self) -> str:
        self.err.seek(0)
        return " | ".join(self.err.read().decode(errors="replace").strip().splitlines()[-3:])[-300:]

    def _stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.err.close()
            self.proc = None

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        self._stop()

    def run(self, index: int) -> dict:
        if self.proc is None:
            self._start()
        call = self.calls[index]
        t0 = time.perf_counter()
        try:
            self.proc.stdin.write(f"{index}\n")
            self.proc.stdin.flush()
            line = self.lines.get(timeout=self.timeout)
        except queue.Empty:
            line, what = None, f"no result within {self.timeout:.0f} s (worker killed)"
        except BrokenPipeError:
            line, what = None, "worker gone"
        else:
            what = None
        if line is not None:
            return json.loads(line)
        if what is None:
            self.proc.wait()
            what = f"worker died (exit code {self.proc.returncode})"
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        what = f"{what}; stderr: {self._stderr_tail()}"
        self._stop()
        self.restarts += 1
        rec = {"index": index, "func": call.func, "group": call.entry.group, "arg": call.arg, "label": call.label,
               "expect": call.expect, "kind": "crash", "what": what, "seconds": round(time.perf_counter() - t0, 3)}
        if call.bad is not None and call.bad.accept:
            rec.update(accept_ok=False, accept_problem="crash", reason=call.bad.accept)
        return rec


def run_catalogue(root: str | os.PathLike = DEFAULT_ROOT, only: list[str] | None = None, *,
                  timeout: float = CALL_TIMEOUT, log: Callable[[str], None] | None = None,
                  indices: list[int] | None = None) -> list[dict]:
    """Run the calls (all, or ``indices``) in order in worker subprocesses; their records."""
    runner = Runner(root, only, timeout=timeout)
    records = []
    try:
        todo = range(len(runner.calls)) if indices is None else indices
        for i in todo:
            rec = runner.run(i)
            records.append(rec)
            if log:
                log(f"[{i + 1}/{len(runner.calls)}] {rec.get('seconds', 0):6.2f}s {rec['func']} {rec['arg']}={rec['label']}: {rec['kind']}"
                    + (f" ({rec['what'][:100]})" if rec["kind"] in ("crash", "setup-error", "fail") else ""))
    finally:
        runner.close()
    return records


def problems(records: list[dict]) -> list[str]:
    """What fails the test: base calls that fail, must-reject calls that are not clear,
    acceptable calls whose result is not what the catalogue says."""
    out = []
    for r in records:
        if r["kind"] == "absent":
            continue
        where = f"{r['func']}({r['arg']}={r['label']})" if r["arg"] else f"{r['func']} {r['label']}"
        if r["expect"] == "valid" and r["kind"] != "ok":
            out.append(f"{where}: base call {r['kind']}: {r['what']}")
        elif r["expect"] == "reject" and r["kind"] != "clear":
            out.append(f"{where}: {r['kind']}: {r['what']}")
        elif r["expect"] == "accept" and not r.get("accept_ok"):
            out.append(f"{where}: acceptable ({r.get('reason')}) but {r.get('accept_problem')}")
    return out


def report(records: list[dict], show: set[str], seconds: float, root) -> str:
    lines = [f"geomlib at {root}: {len(records)} calls in {seconds:.0f} s"]
    absent = sorted({r["func"] for r in records if r["kind"] == "absent"})
    if absent:
        lines.append(f"not in this geomlib (not counted): {', '.join(absent)}")
    records = [r for r in records if r["kind"] != "absent"]
    bases = [r for r in records if r["expect"] == "valid"]
    bad_base = [r for r in bases if r["kind"] != "ok"]
    lines.append(f"base calls: {len(bases) - len(bad_base)} of {len(bases)} ok")
    for r in bad_base:
        lines.append(f"  BASE CALL FAILS {r['func']}: {r['kind']}: {r['what']}")
    rej = [r for r in records if r["expect"] == "reject"]
    acc = [r for r in records if r["expect"] == "accept"]
    tot = collections.Counter(r["kind"] for r in rej)
    lines.append(f"must-reject bad calls: {len(rej)}  " + "  ".join(f"{k} {tot.get(k, 0)}" for k in KINDS))
    if acc:
        ok = sum(1 for r in acc if r.get("accept_ok"))
        lines.append(f"acceptable bad calls: {len(acc)}  as documented {ok}, not {len(acc) - ok}")
    lines.append("")
    lines.append(f"{'group':<16} {'calls':>5} " + " ".join(f"{k:>8}" for k in KINDS))
    for grp in GROUPS:
        c = collections.Counter(r["kind"] for r in rej if r["group"] == grp)
        n = sum(c.values())
        if n:
            lines.append(f"{grp:<16} {n:>5} " + " ".join(f"{c.get(k, 0):>8}" for k in KINDS))
    lines.append("")
    lines.append(f"{'function':<34} {'calls':>5} " + " ".join(f"{k:>8}" for k in KINDS))
    funcs = list(dict.fromkeys(r["func"] for r in rej))
    for fn in funcs:
        c = collections.Counter(r["kind"] for r in rej if r["func"] == fn)
        lines.append(f"{fn:<34} {sum(c.values()):>5} " + " ".join(f"{c.get(k, 0):>8}" for k in KINDS))
    if show:
        lines.append("")
        lines.append("non-clear must-reject calls:")
        for fn in funcs:
            rs = [r for r in rej if r["func"] == fn and r["kind"] in show]
            if rs:
                lines.append(f"  {fn}")
                for r in rs:
                    lines.append(f"    {r['kind']:<8} {r['arg']}={r['label']}: {r['what']}")
        bad_acc = [r for r in acc if not r.get("accept_ok")]
        if bad_acc:
            lines.append("acceptable calls not as documented:")
            for r in bad_acc:
                lines.append(f"    {r['func']} {r['arg']}={r['label']} ({r['reason']}): {r['accept_problem']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=str(DEFAULT_ROOT), help="checkout whose geomlib is measured")
    ap.add_argument("--only", default="", help="comma-separated entry names")
    ap.add_argument("--show", default="silent,unclear,crash", help="kinds listed call by call ('' for none)")
    ap.add_argument("--json", default=None, help="write the records here")
    ap.add_argument("--timeout", type=float, default=CALL_TIMEOUT, help="seconds per call")
    ap.add_argument("--verbose", "-v", action="store_true", help="one line per call as it finishes")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    only = [s for s in args.only.split(",") if s] or None
    root = str(Path(args.root).resolve())
    if args.worker:
        worker_main(root, only)
        return 0
    t0 = time.perf_counter()
    log = (lambda s: print(s, file=sys.stderr, flush=True)) if args.verbose else None
    records = run_catalogue(root, only, timeout=args.timeout, log=log)
    seconds = time.perf_counter() - t0
    show = {s for s in args.show.split(",") if s}
    print(report(records, show, seconds, root))
    if args.json:
        Path(args.json).write_text(json.dumps({"root": root, "seconds": seconds, "records": records}, indent=1,
                                              default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
