"""shared_planes_check: a reduced survey with the same seed surveys a subset of a larger one's
planes (neurons, closest competitors, prefixes of the same random draws), and agrees with it
there up to float rounding; planes that are not the same are not compared."""

import dataclasses

import numpy as np
import pytest

import geomlib

LCA = {"lam": 0.15, "steps": 75, "eta": 1 / 30}


@pytest.fixture(scope="module")
def surveys():
    params = geomlib.load_params("patches-2x")
    lca = {k: geomlib.load_metadata("patches-2x")["config"][k] for k in LCA}
    large = geomlib.run_survey(params, "lca", neurons=5, n_comparison=4, n_random=4, key=3, progress=False, **lca)
    small = geomlib.run_survey(params, "lca", neurons=2, n_comparison=2, n_random=3, key=3, progress=False, **lca)
    return large, small


def test_a_reduced_survey_is_a_subset_of_the_larger_and_agrees_there(surveys):
    large, small = surveys
    assert set(small.neurons.tolist()) <= set(large.neurons.tolist())
    check = geomlib.shared_planes_check(large, small)
    assert check.n_neurons == 2 and check.unmatched == 0
    assert check.n_planes == {"comparison": 4, "random": 6}
    assert check.within == 1.0 and max(check.max_abs_difference.values()) < 1e-5
    assert np.all(small.c2 > 0.01)          # real bends, not zeros that agree trivially
    assert "2 neurons" in check.report() and "100.0% within 0.001" in check.report()
    assert geomlib.shared_planes_check(small, large).n_planes == check.n_planes    # symmetric


def test_a_changed_bend_is_found(surveys):
    large, small = surveys
    row = int(np.flatnonzero(large.neurons == small.neurons[1])[0])
    c2 = large.c2.copy()
    c2[row, 1] += 0.02                                        # that neuron's second comparison plane
    check = geomlib.shared_planes_check(dataclasses.replace(large, c2=c2), small)
    assert check.max_abs_difference["comparison"] == pytest.approx(0.02, abs=1e-4)
    assert check.max_abs_difference["random"] < 1e-5
    assert check.within == pytest.approx(9 / 10)


def test_planes_that_are_not_the_same_are_not_compared(surveys):
    large, small = surveys
    angle = large.angle.copy()
    angle[:, large.kind == "random"] += 1.0                   # as if the random draws were not prefixes
    check = geomlib.shared_planes_check(dataclasses.replace(large, angle=angle), small)
    assert check.unmatched == 6 and check.n_planes == {"comparison": 4, "random": 0}
    assert np.isnan(check.max_abs_difference["random"]) and "6 planes at shared positions differ" in check.report()
    partner = large.partner.copy()
    partner[:, large.kind == "comparison"] += 1
    with pytest.raises(ValueError, match="no plane in common"):
        geomlib.shared_planes_check(dataclasses.replace(large, angle=angle, partner=partner), small)


def test_surveys_with_other_settings_are_refused(surveys):
    large, small = surveys
    other = dataclasses.replace(small, config={**small.config, "steps": 50})
    with pytest.raises(ValueError, match="different steps"):
        geomlib.shared_planes_check(large, other)
    with pytest.raises(ValueError, match="different model"):
        geomlib.shared_planes_check(large, dataclasses.replace(small, config={**small.config, "model": "relu"}))
    with pytest.raises(ValueError, match="a: expected a SurveyResult"):
        geomlib.shared_planes_check({"c2": large.c2}, small)
