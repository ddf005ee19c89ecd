"""Chapter 8's prediction test and noise curve as measured (geomlib._src.defense.prediction_run), the
resumable per-model file behind it (per_model), and minimal_perturbation without the pixel box."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.tree_util import Partial

import geomlib
from geomlib._src.core.files import ResultFileError
from geomlib._src.defense.per_model import per_model_file, read_per_model

COMPARISON = "notebooks/results/defense-mnist-24.npz"


# ---------------------------------------------------------------- minimal perturbation without the box


def _binary(w, b, x):
    return jnp.stack([jnp.zeros(x.shape[0], x.dtype), x @ w + b], axis=1)


def test_unboxed_minimal_distance_is_the_distance_to_the_hyperplane_where_the_box_binds():
    # Images at the top of the box, pushed up and out of it by the nearest step: in the box the
    # adversarial must take another route, so only the unboxed distance is |w.x + b| / |w|.
    d = 16
    w = np.ones(d, np.float32)
    w[: d // 2] = 0.05                       # little to gain from the pixels that may still rise
    x = np.full((3, d), 0.98, np.float32)
    x[:, : d // 2] = 0.5
    c = np.array([0.4, 0.6, 0.8])                            # w.x + b = -c < 0: class 0
    exact = c / np.linalg.norm(w)                            # the step along +w lifts the 0.98s past 1
    xs, y = jnp.asarray(x[:1]), jnp.zeros(1, jnp.int32)
    for ci, e in zip(c, exact):
        f = Partial(_binary, jnp.asarray(w), jnp.float32(-float(x[0] @ w) - ci))
        free = geomlib.minimal_perturbation(f, xs, y, "2", box=False)
        boxed = geomlib.minimal_perturbation(f, xs, y, "2")
        assert free.distance[0] == pytest.approx(e, rel=0.03)
        assert free.distance[0] >= e * (1 - 1e-3)
        assert free.x_adv.max() > 1                          # it left the box, and that was allowed
        assert boxed.x_adv.max() <= 1 and boxed.distance[0] > 1.5 * e
    with pytest.raises(TypeError, match="box"):
        geomlib.minimal_perturbation(f, xs, y, "2", box="no")


def test_check_adversarials_without_the_box_accepts_points_outside_it():
    from geomlib._src.robustness.autoattack import check_adversarials

    f = Partial(_binary, jnp.ones(2, jnp.float32), jnp.float32(-3.0))
    x, x_adv = jnp.array([[0.5, 0.5]]), jnp.array([[2.0, 2.0]])
    assert check_adversarials(f, x, jnp.array([0]), x_adv, np.inf, "2", 0.0, box=False).tolist() == [True]
    with pytest.raises(ValueError, match="not a valid adversarial"):
        check_adversarials(f, x, jnp.array([0]), x_adv, np.inf, "2", 0.0)


# ---------------------------------------------------------------- the flat boundary's noise ratio


def test_flat_noise_ratio_matches_a_monte_carlo_estimate():
    rng = np.random.default_rng(0)
    for dim in (3, 50, 784):
        v = rng.normal(size=(40_000, dim))
        cos = np.abs(v[:, 0]) / np.linalg.norm(v, axis=1)
        assert geomlib.flat_noise_ratio(dim) == pytest.approx(np.median(1 / cos), rel=0.02)
    assert geomlib.flat_noise_ratio(784) == pytest.approx(np.sqrt(784) / 0.674, rel=0.01)
    with pytest.raises(ValueError, match="dim"):
        geomlib.flat_noise_ratio(1)


# ---------------------------------------------------------------- one model, measured


@pytest.fixture(scope="module")
def linear_measures():
    data = geomlib.load_mnist_subset(seed=0)
    _, meta = geomlib.load_comparison(COMPARISON)
    idx = np.asarray(meta["images"][:2])
    x, y = np.asarray(data.x_test[idx], np.float32), np.asarray(data.y_test[idx])
    # the command's settings (PREDICTION_SETTINGS) on its first two digits: what
    # test_predictions_file_of_two_digits_resumes measures, so that test reuses these compiled kernels
    return geomlib.prediction_measures("linear", x, y), x, y


def test_linear_model_flat_boundary_found_distance_equals_deepfool_and_lines_are_longer(linear_measures):
    m, x, y = linear_measures
    assert m.temperature == pytest.approx(0.05)
    assert m.curvatures.shape == (2, 3) and m.noise.shape == (2, geomlib.PREDICTION_SETTINGS["n_directions"]) == (2, 32)
    np.testing.assert_allclose(m.found, m.distance, rtol=0.03)     # a flat boundary: DeepFool is exact
    assert np.all(np.abs(m.curvatures[np.isfinite(m.curvatures)]) < 1e-2 / m.distance.max())
    assert np.all(m.noise >= m.found[:, None] * (1 - 1e-3))      # no line reaches the boundary sooner
    assert np.all(m.method >= 0)
    s = geomlib.prediction_summary({"linear": m})["linear"]
    assert s.test.n_curved == 0 and s.test.r2 == s.test.r2_flat
    assert 10 < s.median_ratio < 200 and s.flat_ratio == pytest.approx(41.5, abs=0.1)


def test_prediction_measures_checks_its_arguments(linear_measures):
    _, x, y = linear_measures
    with pytest.raises(ValueError, match="model"):
        geomlib.prediction_measures("", x, y)
    with pytest.raises(ValueError, match="temperature"):
        geomlib.prediction_measures("linear", x, y, temperature=-1.0)
    with pytest.raises(ValueError, match="n_directions"):
        geomlib.prediction_measures("linear", x, y, n_directions=0)
    with pytest.raises(ValueError, match="x"):
        geomlib.prediction_measures("linear", x + 2, y)
    with pytest.raises(FileNotFoundError):
        geomlib.prediction_measures("no-such-model", x, y)


def test_prediction_summary_ratios_and_undefined_digits():
    noise = np.array([[2.0, 4.0, 6.0], [np.inf, np.inf, 1.0], [3.0, 3.0, 3.0]])
    m = geomlib.PredictionMeasures(0.05, np.array([1.0, 1.0, 1.0]), np.zeros((3, 1)), np.array([0.5, 1.0, 0.0]),
                                   np.array([0, 0, -1]), noise)
    s = geomlib.prediction_summary({"a": m})["a"]
    # digit 0: median 4 over 0.5; digit 1: most lines never cross (median inf); digit 2: misclassified (0)
    np.testing.assert_allclose(s.noise_ratio, [8.0, np.nan, np.nan])
    np.testing.assert_array_equal(s.noise_median, [4.0, np.inf, 3.0])   # defined for every digit that has lines
    assert s.median_ratio == 8.0
    with pytest.raises(ValueError, match="measures"):
        geomlib.prediction_summary({})
    with pytest.raises(ValueError, match="measures\\['a'\\]"):
        geomlib.prediction_summary({"a": (1, 2)})


# ---------------------------------------------------------------- the resumable per-model file


def test_per_model_file_resumes_refuses_other_settings_and_reads_back(tmp_path):
    out = tmp_path / "f.npz"
    calls = []

    def measure(m):
        calls.append(m)
        return {"x": np.arange(3) * len(m), "name": np.asarray(m)}

    per_model_file(out, ["a", "bb"], {"n": 3}, measure, what="test", command="cmd 1", progress=False)
    per_model_file(out, ["a", "bb", "ccc"], {"n": 3}, measure, what="test", command="cmd 2", progress=False)
    assert calls == ["a", "bb", "ccc"]                      # a and bb were not measured again
    arrays, meta = read_per_model(out, what="test", command="cmd")
    assert meta["models"] == ["a", "bb", "ccc"] and meta["command"] == "cmd 1 && cmd 2"
    assert arrays["ccc"]["x"].tolist() == [0, 3, 6] and str(arrays["bb"]["name"]) == "bb"
    assert set(meta["model_seconds"]) == {"a", "bb", "ccc"} and meta["settings"] == {"n": 3}
    with pytest.raises(ValueError, match="other settings"):
        per_model_file(out, ["a"], {"n": 4}, measure, what="test", command="cmd", progress=False)
    per_model_file(out, ["a"], {"n": 4}, measure, what="test", command="cmd 3", restart=True, progress=False)
    assert read_per_model(out, what="test", command="cmd")[1]["models"] == ["a"]
    with pytest.raises(ValueError, match="array names"):
        per_model_file(tmp_path / "g.npz", ["a"], {}, lambda m: {"a/b": np.zeros(1)}, what="t", command="c",
                       progress=False)
    np.savez(tmp_path / "h.npz", settings=json.dumps({}))
    with pytest.raises(ResultFileError, match="python -m somewhere"):
        read_per_model(tmp_path / "h.npz", what="test", command="python -m somewhere")


def test_predictions_file_of_two_digits_resumes(tmp_path):
    out = tmp_path / "p.npz"
    got, meta = geomlib.predictions_to_file(out, ("linear",), comparison=COMPARISON, n_images=2, progress=False,
                                            command="run 1")
    again, meta2 = geomlib.predictions_to_file(out, ("linear",), comparison=COMPARISON, n_images=2, progress=False,
                                               command="run 2")
    assert meta2["model_seconds"] == meta["model_seconds"]             # read back, not measured again
    np.testing.assert_array_equal(again["linear"].noise, got["linear"].noise)
    assert meta["settings"]["images"] == geomlib.load_comparison(COMPARISON)[1]["images"][:2]
    assert meta2["command"] == "run 1"                                  # a run that measured nothing writes nothing
    with pytest.raises(FileNotFoundError, match="no-such-model"):       # up front, before any model runs
        geomlib.predictions_to_file(tmp_path / "q.npz", ("linear", "no-such-model"), comparison=COMPARISON,
                                    progress=False)
    assert not (tmp_path / "q.npz").exists()


def test_committed_prediction_file_reads_back_whole():
    measures, meta = geomlib.load_predictions("notebooks/results/defense-prediction-24.npz")
    assert meta["models"] == list(geomlib.DEFENSE_MODELS)
    n = len(meta["settings"]["images"])
    for m in measures.values():
        assert m.distance.shape == (n,) and m.noise.shape == (n, meta["settings"]["n_directions"])
        assert np.all(np.isfinite(m.found) | (m.method == -2))


def test_chapter_9_finds_the_prediction_file_and_states_its_finding(tmp_path):
    from geomlib import plots

    files = plots.find_result_files("notebooks/results")
    assert list(files.predictions) == ["defense-prediction-24.npz"]
    assert "defense-prediction-24.npz" not in files.robustness and "defense-prediction-24.npz" not in files.comparisons
    measures, meta = files.predictions["defense-prediction-24.npz"]
    (finding,) = plots.prediction_findings(measures, "file x")
    s = geomlib.prediction_summary(measures)
    assert finding.chapter == 8 and finding.verdict == "new here"
    assert f"r alone {min(v.test.r2_flat for v in s.values()):.2f}" in finding.ours
    assert f"on {sum(v.test.n_curved for v in s.values())} of" in finding.ours
    assert plots.prediction_findings({}, "none") == []
