"""geomlib._src.core.checks: the scalar argument checks every layer shares."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geomlib._src.core.checks import check_float, check_int


@given(st.integers(-50, 50), st.integers(-50, 50), st.integers(0, 60))
def test_check_int_accepts_exactly_the_integers_in_range(low, span, value):
    high = low + abs(span)
    inside = low <= value <= high
    if inside:
        out = check_int(value, "n", low, high)
        assert out == value and type(out) is int
    else:
        with pytest.raises(ValueError, match=rf"^n: expected an integer in \[{low}, {high}\], got {value}$"):
            check_int(value, "n", low, high)


@pytest.mark.parametrize("value", [np.int64(3), np.int32(3), jnp.int32(3), np.array(3)])
def test_check_int_takes_numpy_and_jax_integer_scalars(value):
    out = check_int(value, "n")
    assert out == 3 and type(out) is int


@pytest.mark.parametrize("value", [True, np.True_, 3.0, np.float32(3), jnp.float32(3), "3", None, [3], np.array([3])])
def test_check_int_refuses_what_is_not_an_integer(value):
    with pytest.raises(ValueError, match=r"^steps: expected an integer >= 1, got "):
        check_int(value, "steps")


def test_check_int_messages_name_their_bounds():
    with pytest.raises(ValueError, match=r"^k: expected an integer in \[1, D = 12\], got 13$"):
        check_int(13, "k", 1, 12, high_label="D")
    with pytest.raises(ValueError, match=r"^iterations: expected an integer >= k = 5, got 4$"):
        check_int(4, "iterations", 5, low_label="k")
    with pytest.raises(ValueError, match=r"^copies: expected an integer >= 0, got -1$"):
        check_int(-1, "copies", 0)


@given(st.floats(allow_nan=True, allow_infinity=True), st.booleans())
def test_check_float_accepts_exactly_the_finite_numbers_in_range(value, open_low):
    inside = math.isfinite(value) and (value > 0 if open_low else value >= 0) and value <= 1
    if inside:
        out = check_float(value, "eps", 0.0, 1.0, open_low=open_low)
        assert out == value and type(out) is float
    else:
        interval = r"\(0, 1\]" if open_low else r"\[0, 1\]"
        with pytest.raises(ValueError, match=rf"^eps: expected a finite number in {interval}, got "):
            check_float(value, "eps", 0.0, 1.0, open_low=open_low)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "a finite number"),
    ({"low": 0.0}, "a finite number >= 0"),
    ({"low": 0.0, "open_low": True}, "a finite number > 0"),
    ({"high": 2.5}, "a finite number <= 2.5"),
])
def test_check_float_messages(kwargs, message):
    with pytest.raises(ValueError, match=rf"^x: expected {message}, got nan$"):
        check_float(math.nan, "x", **kwargs)


@pytest.mark.parametrize("value", [2, np.float32(2), np.int64(2), jnp.float32(2), np.array(2.0)])
def test_check_float_takes_real_scalars(value):
    out = check_float(value, "x")
    assert out == 2.0 and type(out) is float


@pytest.mark.parametrize("value", [True, "2", None, 2j, [2.0], np.array([2.0]), np.array("2")])
def test_check_float_refuses_what_is_not_a_real_scalar(value):
    with pytest.raises(ValueError, match=r"^x: expected a finite number, got "):
        check_float(value, "x")


# ----------------------------------------------------------------------------- arrays, choices, bools

from geomlib._src.core.checks import check_array, check_bool, check_choice  # noqa: E402


@pytest.mark.parametrize("value, error, message", [
    (None, TypeError, r"^x: expected an array of numbers, got NoneType$"),
    ("abc", TypeError, r"^x: expected an array of numbers, got str 'abc'$"),
    (True, TypeError, r"^x: expected an array of numbers, got bool True$"),
    (np.ones(3, complex), TypeError, r"^x: expected real numbers, got complex values"),
    (np.array([True, False]), TypeError, r"^x: expected real numbers, got booleans"),
    (np.array(["a"]), TypeError, r"^x: expected real numbers, got non-numeric values"),
    ([[1, 2], [3]], TypeError, r"^x: expected an array of numbers, got list"),
    (np.array([1.0, np.nan, np.inf]), ValueError, r"^x: expected finite values, got 2 NaN or infinite entries$"),
])
def test_check_array_rejects_what_is_not_an_array_of_real_finite_numbers(value, error, message):
    with pytest.raises(error, match=message):
        check_array(value, "x")


@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.lists(st.integers(1, 4), min_size=1, max_size=3))
def test_check_array_shape_matches_exactly_with_wildcards(actual, expected):
    x = np.zeros(actual)
    wild = [None if k % 2 else s for k, s in enumerate(expected)]
    ok = len(actual) == len(wild) and all(w is None or w == a for w, a in zip(wild, actual))
    if ok:
        assert check_array(x, "x", shape=tuple(wild)).shape == tuple(actual)
    else:
        with pytest.raises(ValueError, match=r"^x: expected shape \("):
            check_array(x, "x", shape=tuple(wild))


def test_check_array_converts_and_keeps_integers():
    assert check_array([1, 2], "x").dtype == jnp.result_type(float)
    assert jnp.issubdtype(check_array(np.arange(3), "i", kind="int").dtype, jnp.integer)
    with pytest.raises(TypeError, match=r"^i: expected integers, got ndarray of dtype float64"):
        check_array(np.ones(3), "i", kind="int")
    with pytest.raises(ValueError, match=r"^x: expected 2 axes, got shape \(3,\)$"):
        check_array(np.ones(3), "x", ndim=2)
    assert bool(jnp.isnan(check_array(np.array([np.nan]), "x", finite=False))[0])


def test_check_array_passes_traced_values_unchecked():
    import jax

    out = jax.jit(lambda a: check_array(a, "x", shape=(3,)))(jnp.array([1.0, np.nan, 2.0]))
    assert out.shape == (3,)


def test_check_choice_and_bool():
    assert check_choice("a", "mode", ("a", "b")) == "a"
    for bad in ("c", None, 1):
        with pytest.raises(ValueError, match=r"^mode: expected one of 'a', 'b', got "):
            check_choice(bad, "mode", ("a", "b"))
    assert check_bool(np.bool_(True), "clip") is True
    for bad in (1, 0.0, "yes", None):
        with pytest.raises(TypeError, match=r"^clip: expected True or False, got "):
            check_bool(bad, "clip")


def test_check_path():
    from pathlib import Path

    from geomlib._src.core.checks import check_path

    assert check_path("a/b.npz") == Path("a/b.npz") and check_path(Path("x"), "out") == Path("x")
    for bad in (None, b"x", True, "", 3):
        with pytest.raises(TypeError, match=r"^out: expected a file path \(str or os.PathLike\), got "):
            check_path(bad, "out")


def test_checks_of_concrete_values_work_under_an_enclosing_jit():
    # constants closed over inside jit: jnp reductions on them would be traced (bool() fails)
    import jax

    from geomlib._src.core.checks import check_images, check_labels

    x, y = np.full((2, 3), 0.5), np.array([0, 1])

    @jax.jit
    def f(e):
        return check_images(x, True).sum() * e + check_labels(y, 2, 2, "y").sum() + check_array(x, "x").sum()

    assert float(f(1.0)) == 7.0
    with pytest.raises(ValueError, match=r"^y: expected labels in \[0, 2\)"):
        jax.jit(lambda e: check_labels(np.array([0, 5]), 2, 2, "y").sum() * e)(1.0)
