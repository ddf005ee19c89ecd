"""BPDA in the comparison's worst case (``measure_classifier(bpda_fn=...)``, ``mnist_comparison(bpda=True)``,
``python -m geomlib.cli.defense --bpda``): for a model whose own gradient is useless, the attack
that follows a differentiable twin's gradient breaks what the standard attacks leave standing."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import geomlib
from geomlib._src.core.files import ResumeError
from geomlib._src.defense import measures
from geomlib._src.defense.measures import BROKEN_BY_BPDA, measure_classifier
from geomlib._src.defense.mnist import mnist_comparison
from geomlib._src.defense.runs import comparison_to_file

D = 16                                  # 4 x 4 images (Square needs a square)
W = np.zeros((2, D), np.float32)
W[0, 0], W[0, 4], W[1, 0], W[1, 4] = 1.0, -1.0, -1.0, 1.0   # class 0 iff pixel 0 > pixel 4 (one column of the image)


def twin(x):
    """The differentiable classifier: logits W x."""
    return x @ jnp.asarray(W).T


def masked(x):
    """The same values, and a zero gradient everywhere: gradient masking at its purest."""
    return jax.lax.stop_gradient(twin(x))


def digits():
    x = np.full((4, D), 0.5, np.float32)
    x[:, 0], x[:, 4] = 0.5 + np.array([0.06, 0.08, 0.07, 0.09]), 0.5 - np.array([0.06, 0.08, 0.07, 0.09])
    return jnp.asarray(x), jnp.zeros(4, jnp.int32), jnp.ones(4, jnp.int32)


SETTINGS = dict(eps=(0.1,), pgd_steps=5, k=1, lanczos_iterations=3, msd_steps=5, survey=None, key=0,
                worst_case={"steps": 20, "n_targets": 1, "queries": 5})


def test_bpda_breaks_what_a_masked_gradient_hides():
    x, y, target = digits()
    means = jnp.zeros((2, D))
    plain = measure_classifier(masked, None, x, y, target, means, **SETTINGS)
    with_bpda = measure_classifier(masked, None, x, y, target, means, bpda_fn=twin, **SETTINGS)
    # margins 0.12-0.18 < 2 eps = 0.2: every digit has an adversarial inside the ball
    assert plain.worst_correct.any(), "the standard attacks should miss a zero-gradient model"
    assert not with_bpda.worst_correct.any()
    stood = plain.worst_correct[0]
    assert (with_bpda.worst_broken_by[0][stood] == BROKEN_BY_BPDA).all()
    # the standard attacks ran with the same keys: what they broke is the same
    np.testing.assert_array_equal(with_bpda.worst_broken_by[0][~stood], plain.worst_broken_by[0][~stood])
    # on the differentiable model itself, BPDA is never needed
    direct = measure_classifier(twin, None, x, y, target, means, **SETTINGS)
    assert not direct.worst_correct.any() and (direct.worst_broken_by != BROKEN_BY_BPDA).all()


def test_bpda_needs_a_worst_case_and_a_function():
    x, y, target = digits()
    with pytest.raises(ValueError, match="bpda_fn: BPDA is an attack of the worst case"):
        measure_classifier(masked, None, x, y, target, jnp.zeros((2, D)), bpda_fn=twin,
                           **{**SETTINGS, "worst_case": None})
    with pytest.raises(ValueError, match="bpda_fn: expected a callable"):
        measure_classifier(masked, None, x, y, target, jnp.zeros((2, D)), bpda_fn="twin", **SETTINGS)
    with pytest.raises(ValueError, match="bpda: .*'other'"):
        measures.compare_classifiers({"m": (masked, None)}, x, y, target, jnp.zeros((2, D)), progress=False,
                                     bpda={"other": twin}, **SETTINGS)


def test_mnist_comparison_adds_bpda_to_the_lca_models_only(monkeypatch, tmp_path):
    seen = {}
    real = measures.measure_classifier

    def spy(logits_fn, smooth_fn, *args, bpda_fn=None, **kwargs):
        seen[len(seen)] = bpda_fn
        return real(logits_fn, smooth_fn, *args, bpda_fn=bpda_fn, **kwargs)

    monkeypatch.setattr(measures, "measure_classifier", spy)
    tiny = dict(eps=(0.1,), pgd_steps=2, k=1, lanczos_iterations=3, msd_steps=5, survey=None, progress=False,
                worst_case={"steps": 2, "n_targets": 1, "queries": 5})
    results, meta = mnist_comparison(("mlp-2", "lca-mlp-2-t25"), 2, bpda=True, **tiny)
    assert seen[0] is None and seen[1] is not None           # mlp-2 none; the LCA model its twin
    lam = float(np.asarray(geomlib.load_classifier("lca-mlp-2-t25").args[0]["lca"]["lam"]))
    x = jnp.asarray(geomlib.load_mnist_subset(seed=0).x_test[:3])
    expected = geomlib.load_classifier("lca-mlp-2-t25", smooth_temperature=lam / 10)(x)
    np.testing.assert_allclose(seen[1](x), expected, rtol=1e-5, atol=1e-6)   # the twin at T = lambda / 10
    assert meta["settings"]["bpda"] is True
    path = geomlib.save_comparison(tmp_path / "bpda.npz", results, meta)
    # BPDA is part of the settings a resumed file must share
    with pytest.raises(ResumeError, match="bpda True"):
        comparison_to_file(path, ("mlp-2", "lca-mlp-2-t25"), 2, eps=(0.1,), worst_case=tiny["worst_case"],
                           progress=False)
    with pytest.raises(ValueError, match="bpda: BPDA is an attack of the worst case"):
        mnist_comparison(("mlp-2",), 2, bpda=True, **{**tiny, "worst_case": None})


def test_command_line_bpda(tmp_path, capsys):
    from geomlib.cli import defense

    with pytest.raises(SystemExit):
        defense.main(["--bpda", "--worst-case", "none"])
    assert "--bpda: BPDA is an attack of the worst case" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        defense.main(["--bpda", "--cifar10", str(tmp_path)])
    assert "--bpda: BPDA is added to the LCA models of the MNIST comparison" in capsys.readouterr().err


def test_the_convergence_check_runs_the_same_worst_case():
    from geomlib._src.defense.convergence import worst_case_convergence

    tiny = {"steps": 2, "n_targets": 1, "queries": 5}
    record = worst_case_convergence(("mlp-2", "lca-mlp-2-t25"), 2, eps=(0.1,), budgets={"stated": tiny},
                                    progress=False, bpda=True)
    assert record["bpda"] is True
    assert record["models"]["mlp-2"]["attacks"] == ["APGD-CE", "APGD-T", "Square"]
    assert record["models"]["lca-mlp-2-t25"]["attacks"] == ["APGD-CE", "APGD-T", "Square", "bpda"]
    plain = worst_case_convergence(("lca-mlp-2-t25",), 2, eps=(0.1,), budgets={"stated": tiny}, progress=False)
    assert plain["bpda"] is False and plain["models"]["lca-mlp-2-t25"]["attacks"] == ["APGD-CE", "APGD-T", "Square"]


def test_the_ensemble_attacks_what_pgd_and_the_smaller_radius_left_standing(monkeypatch):
    """PGD-10 runs first; the ensemble sees only the digits it left standing, and at a larger radius
    only those standing at the smaller one; codes say what broke each digit first."""
    calls = []
    real = measures.robust_accuracy

    def spy(f, x, y, eps, norm, *, standing=None, **kwargs):
        calls.append((eps, None if standing is None else np.asarray(standing).copy()))
        return real(f, x, y, eps, norm, standing=standing, **kwargs)

    monkeypatch.setattr(measures, "robust_accuracy", spy)
    x, y, target = digits()
    # the masked model at eps 0.1 (PGD-10 cannot move it), then a radius where only BPDA can break
    m = measure_classifier(masked, None, x, y, target, jnp.zeros((2, D)), bpda_fn=twin,
                           **{**SETTINGS, "eps": (0.1, 0.05, 0.2)})
    assert [e for e, _ in calls] == [0.05, 0.1, 0.2]               # increasing radii
    assert calls[0][1].all()                                         # PGD-10 broke nothing at 0.05
    assert m.worst_correct[1].all()                                  # margins 0.12-0.18 > 2 x 0.05
    np.testing.assert_array_equal(calls[1][1], m.pgd_correct[0] & m.worst_correct[1])
    assert not m.worst_correct[0].any()                              # BPDA breaks every margin below 0.2
    # at 0.2 nothing is left to attack, and each digit keeps the code it got at 0.1
    np.testing.assert_array_equal(calls[2][1], m.pgd_correct[2] & m.worst_correct[1] & m.worst_correct[0])
    assert not calls[2][1].any() and not m.worst_correct[2].any()
    np.testing.assert_array_equal(m.worst_broken_by[2], m.worst_broken_by[0])
    assert (m.worst_broken_by[0] >= 0).all()
    # on the differentiable model PGD-10 breaks them first: code 3, and the ensemble attacks none
    calls.clear()
    direct = measure_classifier(twin, None, x, y, target, jnp.zeros((2, D)), **{**SETTINGS, "eps": (0.2,)})
    assert not calls[0][1].any() and (direct.worst_broken_by == 3).all()
