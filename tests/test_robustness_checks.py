"""Tests for geomlib._src.robustness.checks (the gradient-masking checks) and
geomlib._src.robustness.minimal_distance (minimal perturbations, closed form on linear models).

Known-masked toy models must raise FLAGs and a plain linear model must pass:

* ``stopped``: a linear model behind ``stop_gradient`` (zero gradient everywhere): the
  unbounded attack fails, a gradient-free search beats the white-box attack, zero gradients;
* ``saturated``: logits scaled by 1e3, so the float32 softmax saturates and the
  cross-entropy gradient underflows to exactly 0 on confident images;
* ``probabilities``: a model returning softmax outputs instead of logits;
* ``noisy``: a model whose output changes from call to call.

The gradient-free attack of these tests is a small random search over the corners of the
L-inf ball (the tests must not depend on a particular Square implementation).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.tree_util import Partial

import geomlib

D, K = 16, 3


def linear(w, b, x):
    return x @ w.T + b


def stopped(w, b, x):
    return linear(w, b, jax.lax.stop_gradient(x))


def saturated(w, b, x):
    return 1e3 * linear(w, b, x)


def probabilities(w, b, x):
    return jax.nn.softmax(linear(w, b, x))


_NOISE = np.random.default_rng(123)


def noisy(w, b, x):
    return linear(w, b, x) + jnp.asarray(_NOISE.normal(scale=1e-3, size=(x.shape[0], w.shape[0])), x.dtype)


def corner_search(logits_fn, x, y, eps, norm, key, tries=200):
    """Gradient-free: the best of ``tries`` random corners of the L-inf ball (lowest margin)."""
    best, best_margin = x, jnp.full(x.shape[0], jnp.inf)
    for k in range(tries):
        s = jax.random.rademacher(jax.random.fold_in(key, k), x.shape, x.dtype)
        cand = jnp.clip(x + eps * s, 0, 1)
        z = logits_fn(cand)
        zy = jnp.take_along_axis(z, y[:, None], axis=1)[:, 0]
        margin = zy - jnp.max(jnp.where(jax.nn.one_hot(y, z.shape[1], dtype=bool), -jnp.inf, z), axis=1)
        better = margin < best_margin
        best, best_margin = jnp.where(better[:, None], cand, best), jnp.where(better, margin, best_margin)
    return best


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    w = jnp.asarray(rng.normal(size=(K, D)), jnp.float32)
    b = jnp.asarray(rng.normal(size=K) * 0.1, jnp.float32)
    x = jnp.asarray(rng.uniform(0.2, 0.8, size=(24, D)), jnp.float32)
    y = jnp.argmax(linear(w, b, x), axis=1)
    return w, b, x, y


def run(model, problem, **kw):
    w, b, x, y = problem
    kw = {"eps": 0.25, "attack": "pgd", "steps": 10, "gradient_free": corner_search, "verbose": False, **kw}
    return geomlib.robustness_checks(Partial(model, w, b), x, y, **kw)


def test_a_plain_linear_model_passes_every_check(problem, capsys):
    w, b, _, _ = problem
    res = run(linear, problem, transfer_from=Partial(linear, w * 1.1, b), verbose=True)
    assert res.flags == []
    assert all(c.ok is True for c in res.checks)
    printed = capsys.readouterr().out
    assert printed.count(" ok  ") == len(res.checks) and "FLAG" not in printed
    assert res.accuracy["clean"] == 1.0


def test_a_stopped_gradient_is_flagged(problem):
    flags = run(stopped, problem).flags
    assert {"accuracy -> 0 as eps grows", "gradient-free does not beat white-box", "zero gradients"} <= set(flags)


def test_a_saturated_softmax_is_flagged(problem):
    res = run(saturated, problem)
    assert "zero gradients" in res.flags
    value = {c.name: c.value for c in res.checks}["zero gradients"]
    assert 0 < value <= 1


def test_probabilities_are_flagged(problem):
    assert "logits, not probabilities" in run(probabilities, problem).flags


def test_a_random_model_is_flagged(problem):
    assert "deterministic" in run(noisy, problem, gradient_free=False).flags


def test_transfer_beating_white_box_is_flagged(problem):
    w, b, _, _ = problem
    res = run(stopped, problem, transfer_from=Partial(linear, w, b))
    assert "white-box beats transfer" in res.flags


def test_checks_reject_bad_arguments(problem):
    w, b, x, y = problem
    f = Partial(linear, w, b)
    with pytest.raises(ValueError, match="eps"):
        geomlib.robustness_checks(f, x, y, eps=-0.1)
    with pytest.raises(ValueError, match="attack"):
        geomlib.robustness_checks(f, x, y, eps=0.1, attack="fab")
    with pytest.raises(ValueError, match="norm"):
        geomlib.robustness_checks(f, x, y, eps=0.1, norm="1")
    with pytest.raises(ValueError, match="x: expected pixel values"):
        geomlib.robustness_checks(f, x + 1, y, eps=0.1)


def test_zero_gradient_fraction(problem):
    w, b, x, y = problem
    assert geomlib.zero_gradient_fraction(Partial(linear, w, b), x, y) == 0.0
    assert geomlib.zero_gradient_fraction(Partial(stopped, w, b), x, y) == 1.0


# ---------------------------------------------------------------- minimal perturbation


def binary(w, b, x):
    return jnp.stack([jnp.zeros(x.shape[0], x.dtype), x @ w + b], axis=1)


@pytest.mark.parametrize("norm", ["2", "inf"])
def test_minimal_perturbation_closed_form_on_a_linear_classifier(norm):
    rng = np.random.default_rng(1)
    w = rng.normal(size=D)
    x = rng.uniform(0.4, 0.6, size=(12, D))
    b = -float(np.median(x @ w))
    y = (x @ w + b > 0).astype(np.int32)
    exact = np.abs(x @ w + b) / (np.linalg.norm(w) if norm == "2" else np.abs(w).sum())
    assert exact.max() < 0.1  # the box constraint [0, 1] stays inactive
    f = Partial(binary, jnp.asarray(w, jnp.float32), jnp.float32(b))
    res = geomlib.minimal_perturbation(f, jnp.asarray(x, jnp.float32), jnp.asarray(y), norm)
    assert np.all(res.distance >= exact * (1 - 1e-3) - 1e-6)
    np.testing.assert_allclose(res.distance, exact, rtol=0.03)
    assert np.all(res.method >= 0)
    # every reported image is verified: misclassified, in the box, at the reported distance
    xa = res.x_adv
    assert np.all(np.argmax(np.asarray(f(jnp.asarray(xa))), axis=1) != y)
    assert xa.min() >= 0 and xa.max() <= 1
    d = np.abs(xa - x).max(1) if norm == "inf" else np.linalg.norm(xa - x, axis=1)
    np.testing.assert_allclose(d, res.distance, rtol=1e-4, atol=1e-6)


def test_minimal_perturbation_misclassified_is_zero_and_bad_methods_rejected():
    f = Partial(binary, jnp.ones(4, jnp.float32), jnp.float32(-2.0))
    x = jnp.array([[0.2] * 4, [0.8] * 4])
    res = geomlib.minimal_perturbation(f, x, jnp.array([1, 1]), "2", methods=("deepfool",))
    assert res.distance[0] == 0 and res.method[0] == -1
    assert res.distance[1] == pytest.approx(1.2 / 2 * 1.02, rel=1e-3)  # |w.x + b| / |w|, overshoot 0.02
    assert res.method[1] == 0
    with pytest.raises(ValueError, match="methods"):
        geomlib.minimal_perturbation(f, x, jnp.array([1, 1]), "2", methods=("fab",))
    with pytest.raises(ValueError, match="norm"):
        geomlib.minimal_perturbation(f, x, jnp.array([1, 1]), "1")


# ---------------------------------------------------------------- the offline run: helpers and command line


def test_accuracy_interval_is_paired_and_brackets_the_accuracy():
    correct = np.array([[True] * 80 + [False] * 20, [True] * 40 + [False] * 60])
    acc, lo, hi = geomlib.accuracy_interval(correct)
    np.testing.assert_allclose(acc, [0.8, 0.4])
    assert np.all(lo < acc) and np.all(acc < hi) and np.all(hi - lo < 0.25)
    with pytest.raises(ValueError, match="correct"):
        geomlib.accuracy_interval(np.zeros((2, 0), bool))


def test_cli_rejects_bad_arguments(capsys):
    from geomlib.cli import robustness

    for argv, word in ((["--eps", "0.2,0.1"], "--eps"), (["--models", "nope"], "--models"),
                       (["--parts", "all"], "--parts"), (["--images", "0"], "--images"), (["--targets", "10"], "--targets")):
        with pytest.raises(SystemExit) as err:
            robustness.main(argv)
        assert err.value.code == 2 and word in capsys.readouterr().err


def test_merge_copies_only_missing_parts(tmp_path):
    import json

    from geomlib._src.core.files import write_npz
    from geomlib._src.robustness.runs import merge_robustness_runs

    base = {"images": 2, "eps": [0.1], "chunk": 2, "steps": 5, "n_targets": 1, "queries": 10, "seed": 0, "data": "x"}
    settings = np.asarray(json.dumps(base, sort_keys=True))
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    write_npz(a, {"settings": settings, "command": np.asarray("A"), "worst/m/robust": np.array([True, False])})
    write_npz(b, {"settings": settings, "command": np.asarray("B"), "worst/m/robust": np.array([False, False]),
                  "checks/m/ok": np.array([1, 0])})
    assert merge_robustness_runs(a, b) == ["checks/m/ok"]
    out = geomlib.load_robustness_run(a)
    assert out["worst/m/robust"].tolist() == [True, False] and out["checks/m/ok"].tolist() == [1, 0]
    assert str(out["command"]) == "A && B"
    write_npz(b, {"settings": np.asarray(json.dumps({**base, "images": 3})), "command": np.asarray("B")})
    with pytest.raises(ValueError, match="other settings"):
        merge_robustness_runs(a, b)
