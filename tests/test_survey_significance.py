"""survey_significance: known effects on synthetic surveys, the neuron as the unit, NaN
planes, bad input, and one real (tiny) survey."""

import dataclasses
import math

import numpy as np
import pytest

import geomlib
from geomlib import GroupTest, PairedTest, SurveyResult, SurveySignificance, holm_adjust, survey_significance


def fake(n=16, k=6, shift=0.0, offset=0.0, seed=0, model="lca"):
    """A synthetic survey: n neurons x (k comparison + k random) planes; each neuron has its
    own level, comparison planes are shifted by ``shift``, everything by ``offset``."""
    rng = np.random.default_rng(seed)
    c2 = 0.1 + offset + rng.normal(0, 0.05, (n, 1)) + rng.normal(0, 0.03, (n, 2 * k))
    c2[:, :k] += shift
    kind = np.array(["comparison"] * k + ["random"] * k)
    zero = np.zeros_like(c2)
    return SurveyResult(c2, zero, zero, zero.astype(int), zero, zero.astype(int), kind, np.arange(n), model, {})


def test_shift_gives_small_p_and_no_shift_does_not():
    out = survey_significance({"d/lca": fake(shift=0.1), "e/lca": fake(shift=0.0, seed=1)})
    assert set(out) == {"lca"} and isinstance(out["lca"], SurveySignificance)
    shifted, flat = out["lca"].comparison_vs_random["d"], out["lca"].comparison_vs_random["e"]
    assert isinstance(shifted, PairedTest) and "Wilcoxon" in shifted.test
    assert shifted.n_neurons == 16 and shifted.p_value < 1e-3
    assert shifted.ci[0] < shifted.median_difference < shifted.ci[1]
    assert 0.07 < shifted.median_difference < 0.13 and shifted.ci[0] > 0
    assert flat.p_value > 0.05 and flat.ci[0] < 0 < flat.ci[1]


def test_dictionaries_differ_only_where_shifted():
    out = survey_significance({"2x/lca": fake(seed=0), "4x/lca": fake(seed=1), "10x/lca": fake(seed=2, offset=0.2)},
                              n_boot=500)
    g = out["lca"].across_dictionaries["random"]
    assert isinstance(g, GroupTest) and "Kruskal" in g.test and g.dictionaries == ("2x", "4x", "10x")
    assert g.p_value < 1e-3 and g.n_neurons == (16, 16, 16)
    assert set(g.pairwise) == {("2x", "4x"), ("2x", "10x"), ("4x", "10x")}
    assert g.pairwise["2x", "4x"][2] > 0.05
    assert g.pairwise["2x", "10x"][2] < 1e-3 and g.pairwise["4x", "10x"][2] < 1e-3
    for _, p, p_holm in g.pairwise.values():
        assert p_holm >= p
    assert g.medians[2] > g.cis[1][1] and g.cis[2][0] <= g.medians[2] <= g.cis[2][1]


def test_no_difference_gives_p_not_small():
    out = survey_significance({"a/lca": fake(seed=3), "b/lca": fake(seed=4)})
    assert out["lca"].across_dictionaries["comparison"].p_value > 0.05


def test_neuron_is_the_unit():
    """Duplicating every plane of every neuron (twice the planes, no new neurons) must not
    change any test."""
    base = fake(n=10, shift=0.02, seed=5)
    twice = SurveyResult(*(np.concatenate([x, x], 1) if name in ("c2", "c0", "c1", "n_valid", "angle", "partner")
                           else (np.concatenate([x, x]) if name == "kind" else x)
                           for name, x in zip(SurveyResult.__dataclass_fields__, vars(base).values())))
    assert twice.c2.shape == (10, 24)
    a = survey_significance({"d/lca": base})["lca"].comparison_vs_random["d"]
    b = survey_significance({"d/lca": twice})["lca"].comparison_vs_random["d"]
    assert a == b


def test_nan_planes_are_dropped_and_counted():
    r = fake(shift=0.1)
    c2 = r.c2.copy()
    c2[0, 0] = np.nan                       # one comparison plane of neuron 0
    c2[1, 6:] = np.nan                      # every random plane of neuron 1: the neuron is dropped
    nan = SurveyResult(c2, r.c0, r.c1, r.n_valid, r.angle, r.partner, r.kind, r.neurons, r.model, r.config)
    t = survey_significance({"d/lca": nan})["lca"]
    assert t.comparison_vs_random["d"].nan_planes == 7
    assert t.comparison_vs_random["d"].dropped_neurons == 1 and t.comparison_vs_random["d"].n_neurons == 15
    assert math.isfinite(t.comparison_vs_random["d"].p_value)
    assert t.across_dictionaries["random"].n_neurons == (15,) and t.across_dictionaries["random"].dropped_neurons == 1
    assert t.across_dictionaries["comparison"].n_neurons == (16,)
    assert t.across_dictionaries["comparison"].nan_planes == 1


def test_controls_with_zero_bend_give_nan_not_errors():
    r = fake()
    zero = SurveyResult(np.zeros_like(r.c2), r.c0, r.c1, r.n_valid, r.angle, r.partner, r.kind, r.neurons, "linear", {})
    t = survey_significance({"a/linear": zero, "b/linear": zero})["linear"]
    assert t.comparison_vs_random["a"].median_difference == 0 and math.isnan(t.comparison_vs_random["a"].p_value)
    assert math.isnan(t.across_dictionaries["random"].p_value)
    assert "linear" in t.report()


def test_deterministic_and_report():
    s = {"d/lca": fake(shift=0.1), "d/relu": fake(seed=2)}
    a, b = survey_significance(s, seed=3), survey_significance(s, seed=3)
    assert a == b and list(a) == ["lca", "relu"]
    text = a["lca"].report()
    assert "Wilcoxon" in text and "median difference" in text and "Kruskal-Wallis" in text
    assert survey_significance({("d", "lca"): fake(shift=0.1)}, seed=3)["lca"] == a["lca"]


def test_holm_adjust():
    np.testing.assert_allclose(holm_adjust([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm_adjust([0.5, np.nan, 0.01]), [0.5, np.nan, 0.02])
    assert holm_adjust([]).shape == (0,)
    with pytest.raises(ValueError, match="p_values"):
        holm_adjust([[0.1]])


@pytest.mark.parametrize("surveys, error, match", [
    ([fake()], TypeError, "surveys: expected a dict"),
    ({}, ValueError, "empty"),
    ({"lca": fake()}, ValueError, "dictionary/circuit"),
    ({"a/b/c": fake()}, ValueError, "dictionary/circuit"),
    ({"a/lca": fake().c2}, TypeError, r"surveys\['a/lca'\]: expected a SurveyResult"),
])
def test_bad_surveys(surveys, error, match):
    with pytest.raises(error, match=match):
        survey_significance(surveys)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_boot": 0}, "n_boot"), ({"n_boot": 2.5}, "n_boot"), ({"confidence": 1.0}, "confidence"),
    ({"confidence": 0.0}, "confidence"), ({"confidence": "high"}, "confidence"), ({"seed": -1}, "seed"),
    ({"angles": 60}, "angles"), ({"angles": (80, 60)}, "lo < hi"), ({"angles": (-1, 60)}, r"angles\[0\]"),
    ({"angles": (0, 200)}, r"angles\[1\]"), ({"angles": "60-80"}, "angles"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        survey_significance({"a/lca": fake()}, **kwargs)


def test_angles_compare_at_equal_angle():
    """Two dictionaries whose bend depends only on the competitor's angle, one with closer
    competitors: over all planes the closer one bends more; at equal angle they do not differ."""
    rng = np.random.default_rng(5)

    def survey(lo, seed):
        base = fake(n=30, k=40, seed=seed)
        angle = np.concatenate([rng.uniform(lo, 90, (30, 40)), np.full((30, 40), 90.0)], axis=1)
        c2 = np.where(base.kind == "comparison", 0.5 - angle / 200, 0.05) + rng.normal(0, 0.01, angle.shape)
        c2[0, 0] = np.nan
        return dataclasses.replace(base, c2=c2, angle=angle)

    surveys = {"close/lca": survey(20, 0), "far/lca": survey(50, 1)}
    every = survey_significance(surveys, n_boot=100)["lca"]
    assert every.angles is None and every.across_dictionaries["comparison"].pairwise[("close", "far")][2] < 1e-6
    equal = survey_significance(surveys, n_boot=100, angles=(55, 85))["lca"]
    assert equal.angles == (55.0, 85.0) and equal.across_dictionaries["comparison"].pairwise[("close", "far")][2] > 1e-3
    assert equal.across_dictionaries["random"] == every.across_dictionaries["random"]      # random planes: all kept
    assert equal.comparison_vs_random["close"].n_neurons == 30
    nan_in_range = int(55 <= surveys["close/lca"].angle[0, 0] <= 85)
    assert equal.comparison_vs_random["close"].nan_planes == nan_in_range       # planes out of range are not NaN
    assert "comparison planes at 55-85 degrees across dictionaries" in equal.report()
    none = survey_significance(surveys, n_boot=100, angles=(0, 10))["lca"].comparison_vs_random["close"]
    assert none.n_neurons == 0 and none.dropped_neurons == 30


def test_real_small_survey():
    cfg = geomlib.load_metadata("patches-test")["config"]
    lca = {k: cfg[k] for k in ("lam", "steps", "eta")}
    params = geomlib.load_params("patches-test")
    result = geomlib.run_survey(params, "lca", neurons=3, n_comparison=2, n_random=2, key=0, progress=False, **lca)
    t = survey_significance({"patches-test/lca": result}, n_boot=200)["lca"]
    paired = t.comparison_vs_random["patches-test"]
    assert paired.n_neurons + paired.dropped_neurons == 3
    assert paired.nan_planes == int(np.isnan(result.c2).sum())
    assert 0 <= paired.p_value <= 1 or math.isnan(paired.p_value)
    assert t.across_dictionaries["comparison"].dictionaries == ("patches-test",)
