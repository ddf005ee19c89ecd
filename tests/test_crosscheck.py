"""``shared_digits_check``: two comparison files compared on the digits both measured (chapter 8's
check that a full-size file written long ago matches what today's code computes)."""

import numpy as np
import pytest

import geomlib
from geomlib._src.defense.mnist import mnist_comparison

MODELS = ("linear",)
TINY = dict(eps=(0.05, 0.1), pgd_steps=2, k=1, lanczos_iterations=3, msd_steps=40, survey=None, progress=False,
            worst_case={"steps": 3, "n_targets": 1, "queries": 10})


@pytest.fixture(scope="module")
def common_and_all():
    return mnist_comparison(MODELS, 5, **TINY), mnist_comparison(MODELS, 9, digits="all", **TINY)


def test_the_same_code_agrees_on_the_shared_digits(common_and_all):
    a, b = common_and_all
    check = geomlib.shared_digits_check(a, b)["linear"]
    shared = set(a[1]["images"]) & set(b[1]["images"])
    right = b[0]["linear"].clean_correct[sorted(shared)]
    assert check.n_shared == int(right.sum()) == 5        # the common digits are right for the model
    assert check.within["deepfool_distance"] == 1.0 and check.n_compared["deepfool_distance"] == 5
    assert check.within["largest_curvature"] == 1.0
    assert check.n_compared["msd"] >= 1 and check.within["msd"] == 1.0
    assert set(check.agreement) == {"pgd@0.05", "pgd@0.1", "worst@0.05", "worst@0.1"}
    assert check.agreement["pgd@0.05"] == 1.0              # PGD-10 starts at the digit: deterministic


def test_a_changed_measurement_is_seen(common_and_all):
    (ra, ma), b = common_and_all
    m = ra["linear"]
    moved = m._replace(deepfool_distance=m.deepfool_distance * np.where(np.arange(5) < 2, 1.01, 1.0),
                       pgd_correct=~m.pgd_correct)
    check = geomlib.shared_digits_check(({"linear": moved}, ma), b, rtol=1e-3)["linear"]
    assert check.within["deepfool_distance"] == pytest.approx(3 / 5)
    assert check.agreement["pgd@0.05"] == 0.0
    loose = geomlib.shared_digits_check(({"linear": moved}, ma), b, rtol=0.05)["linear"]
    assert loose.within["deepfool_distance"] == 1.0


def test_msd_is_compared_only_for_the_same_target(common_and_all):
    (ra, ma), b = common_and_all
    other = dict(ma, targets=[(t + 1) % 10 if (t + 1) % 10 != y else (t + 2) % 10
                              for t, y in zip(ma["targets"], ra["linear"].label)])
    check = geomlib.shared_digits_check((ra, other), b)["linear"]
    assert check.n_compared["msd"] == 0 and np.isnan(check.within["msd"])


def test_what_cannot_be_compared_is_refused(common_and_all):
    a, (rb, mb) = common_and_all
    with pytest.raises(ValueError, match="nothing to compare"):
        geomlib.shared_digits_check(a, (rb, dict(mb, images=[900 + i for i in range(9)])))
    with pytest.raises(ValueError, match="different data"):
        geomlib.shared_digits_check(a, (rb, dict(mb, data="cifar10-gray")))
    with pytest.raises(ValueError, match="b: expected \\(results, metadata\\)"):
        geomlib.shared_digits_check(a, rb)
    with pytest.raises(ValueError, match="rtol"):
        geomlib.shared_digits_check(a, (rb, mb), rtol=-1.0)
