"""geomlib._src.defense.temperatures: the boundary curvature at T = lambda / f (temperatures from the
threshold, curvatures of a paraboloid boundary whose smooth twin's curvature is known, NaN where
undefined or unconverged), the rank agreement across temperatures, and the resumable file."""

import inspect
import json

import jax.numpy as jnp
import numpy as np
import pytest
from jax.tree_util import Partial

import geomlib as g
from geomlib._src.defense import temperatures as tm
from geomlib.cli import temperatures as cli

BASE = np.array([3.0, 2.0, 1.0, 0.5, 0.25])       # the paraboloid's curvatures at T = 0


def _paraboloid(a, x):
    """Two classes, boundary x0 = sum_i a_i x_i^2 / 2 (i >= 1): at its vertex the principal curvatures are a."""
    return jnp.stack([jnp.zeros(x.shape[0]), x[:, 0] - 0.5 * (x[:, 1:] ** 2) @ a], axis=1)


def _constant(x):
    """No boundary anywhere: class 0 everywhere, zero gradient."""
    return jnp.stack([jnp.ones(x.shape[0]), jnp.zeros(x.shape[0])], axis=1)


def twin_of(base):
    """A fake model whose smooth twin at temperature T is the paraboloid of curvatures base * (1 + T)."""
    calls = []

    def twin(t):
        calls.append(t)
        return Partial(_paraboloid, jnp.asarray(base * (1 + t), jnp.float32))
    return twin, calls


X = np.zeros((2, 6), np.float32)
X[:, 0] = [-0.5, -1.0]                              # DeepFool goes straight to the vertex, at distance 0.5 and 1


def test_temperatures_from_the_threshold():
    np.testing.assert_allclose(g.smooth_temperatures(0.25), [0.05, 0.025, 0.0125])
    np.testing.assert_allclose(g.smooth_temperatures(None), [0.05, 0.025, 0.0125])   # no LCA: the family's 0.25
    np.testing.assert_allclose(g.smooth_temperatures(0.1), [0.02, 0.01, 0.005])
    np.testing.assert_allclose(g.smooth_temperatures(0.5, (5, 10)), [0.1, 0.05])
    for lam in (0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="lam"):
            g.smooth_temperatures(lam)
    for bad in ((), (5, 5), (0,), "5", (5, -1)):
        with pytest.raises(ValueError, match="factors"):
            g.smooth_temperatures(0.25, bad)
    with pytest.raises(ValueError, match="lam"):
        g.smooth_temperatures("0.25")


def test_thresholds_of_the_shipped_models():
    assert tm.model_threshold("lca-mlp-2") == 0.25
    assert tm.model_threshold("lca-mlp-2-lam0.1") == 0.1
    assert tm.model_threshold("lca-mlp-2-lam0.5") == 0.5
    assert tm.model_threshold("mlp-2") is None and tm.model_threshold("linear") is None


def test_settings_are_the_comparisons():
    defaults = inspect.signature(g.measure_classifier).parameters
    assert tm.CURVATURE_SETTINGS == {"k": defaults["k"].default, "iterations": defaults["lanczos_iterations"].default,
                                     "tol": defaults["curvature_tol"].default}
    assert g.smooth_temperatures(None)[0] == 0.05      # the shipped temperature at f = 5


def test_curvatures_of_a_known_boundary_at_each_temperature():
    twin, calls = twin_of(BASE)
    out = g.temperature_curvatures(twin, X, lam=0.2, factors=(5, 10, 20))
    np.testing.assert_allclose(calls, [0.04, 0.02, 0.01])
    np.testing.assert_allclose(out.temperatures, [0.04, 0.02, 0.01])
    assert out.lam == 0.2 and out.curvatures.shape == (3, 2, 3) and out.distances.shape == (3, 2)
    for i, t in enumerate(out.temperatures):
        np.testing.assert_allclose(np.sort(np.abs(out.curvatures[i]))[:, ::-1], np.tile(BASE[:3] * (1 + t), (2, 1)),
                                   rtol=1e-4)
        np.testing.assert_allclose(out.largest[i], 3.0 * (1 + t), rtol=1e-4)
    np.testing.assert_allclose(out.distances, np.tile([0.5, 1.0], (3, 1)), rtol=1e-4)
    # lam None for a callable: the family's default threshold
    twin, calls = twin_of(BASE)
    assert g.temperature_curvatures(twin, X[:1], factors=(5,)).lam == 0.25 and calls == [0.05]


def test_undefined_and_unconverged_are_nan():
    out = g.temperature_curvatures(lambda t: Partial(_constant), X, factors=(5, 10))
    assert np.isnan(out.curvatures).all() and np.isnan(out.distances).all()
    # 39 distinct curvatures, 3 Lanczos steps, a tolerance it cannot reach: NaN, not the unconverged value
    base = np.linspace(3.0, 0.1, 39)
    x = np.zeros((1, 40), np.float32)
    x[0, 0] = -0.5
    twin, _ = twin_of(base)
    out = g.temperature_curvatures(twin, x, factors=(5,), k=3, iterations=3, tol=1e-9)
    assert np.isnan(out.curvatures).any()
    finite = np.isfinite(out.curvatures[0, 0])
    true = base * 1.05                               # a converged value is one of the true curvatures
    for v in np.abs(out.curvatures[0, 0][finite]):
        assert np.min(np.abs(true - v)) < 1e-3 * v


def test_bad_arguments_name_themselves():
    twin, _ = twin_of(BASE)
    with pytest.raises(ValueError, match="k"):
        g.temperature_curvatures(twin, X, k=5)
    with pytest.raises(TypeError, match="model"):
        g.temperature_curvatures(3, X)
    with pytest.raises(ValueError, match="model"):
        g.temperature_curvatures("", X)
    with pytest.raises((TypeError, ValueError), match="x"):
        g.temperature_curvatures(twin, "abc")
    with pytest.raises(ValueError, match="tol"):
        g.temperature_curvatures(twin, X, tol=0.0)


def _fake(medians, nan_rows=0):
    """TemperatureCurvatures of 4 images whose median largest |kappa| at each temperature is ``medians``."""
    curv = np.array([[[m, -m / 2, 0.0]] * 4 for m in medians], float)
    curv[:, :nan_rows] = np.nan
    return tm.TemperatureCurvatures(np.array([0.05, 0.025, 0.0125]), curv, np.ones((3, 4)), 0.25)


def test_summary_ranks_and_exact_permutation_p():
    curv = {"a": _fake([1.0, 2.0, 4.0]), "b": _fake([2.0, 3.0, 5.0], nan_rows=1), "c": _fake([3.0, 5.0, 6.0]),
            "d": _fake([4.0, 1.0, 7.0])}
    s = g.temperature_summary(curv, {"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.4})
    assert s.models == ("a", "b", "c", "d") and s.labels == ("T = lam/5", "T = lam/10", "T = lam/20", "hard bend")
    np.testing.assert_allclose(s.median, [[1, 2, 4], [2, 3, 5], [3, 5, 6], [4, 1, 7]])
    np.testing.assert_allclose(s.converged[1], 0.75)
    np.testing.assert_allclose(s.rho[0, 2], 1.0)           # lam/5 and lam/20 rank the models alike
    np.testing.assert_allclose(s.rho[0, 3], 1.0)           # and like the bend
    np.testing.assert_allclose(s.rho[0, 1], -0.2)          # d moves from top to bottom at lam/10
    np.testing.assert_allclose(s.p_value[0, 2], 2 / 24)    # exact: 4! orderings, one as extreme each side
    assert s.rho[2, 0] == s.rho[0, 2] and "exact" in s.test and "models" in s.test
    none = g.temperature_summary(curv, None)
    assert np.isnan(none.rho[3]).all() and np.isfinite(none.rho[:3, :3]).all()
    with pytest.raises(ValueError, match="bend"):
        g.temperature_summary(curv, {"a": 0.1})
    with pytest.raises(ValueError, match="curvatures"):
        g.temperature_summary(dict(list(curv.items())[:2]))
    with pytest.raises(ValueError, match="factors"):
        g.temperature_summary(curv, factors=(5, 10))


def test_file_resumes_and_refuses_other_settings(tmp_path, capsys):
    out = tmp_path / "t.npz"
    assert cli.main(["--models", "linear", "--images", "2", "--factors", "5,20", "--out", str(out),
                     "--no-progress"]) == 0
    curv, meta = g.load_temperatures(out)
    assert list(curv) == ["linear"] and meta["models"] == ["linear"]
    assert curv["linear"].curvatures.shape == (2, 2, 3)
    np.testing.assert_allclose(curv["linear"].temperatures, [0.05, 0.0125])
    assert np.nanmax(np.abs(curv["linear"].curvatures)) < 1e-3       # a linear classifier: a flat boundary
    assert meta["settings"]["images"] == [0, 1] and meta["command"].startswith("python -m geomlib.cli.temperatures")
    seconds = meta["model_seconds"]["linear"]
    # resumed: nothing measured again, same numbers
    again, meta2 = tm.temperatures_to_file(out, ("linear",), factors=(5, 20), n_images=2, progress=False)
    assert meta2["model_seconds"]["linear"] == seconds
    np.testing.assert_array_equal(again["linear"].curvatures, curv["linear"].curvatures)
    with pytest.raises(ValueError, match="other settings"):
        tm.temperatures_to_file(out, ("linear",), factors=(5, 10, 20), n_images=2, progress=False)
    assert cli.main(["--models", "linear", "--images", "2", "--out", str(out), "--no-progress"]) == 2
    garbage = tmp_path / "g.npz"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="g.npz"):
        g.load_temperatures(garbage)
    with pytest.raises(FileNotFoundError, match="geomlib.cli.temperatures"):
        g.load_temperatures(tmp_path / "missing.npz")
    assert json.loads(json.dumps(meta["settings"]))["factors"] == [5.0, 20.0]
