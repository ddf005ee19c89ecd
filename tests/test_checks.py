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
