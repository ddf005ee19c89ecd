"""Tests for geomlib._src.planes: plane construction, grids, embed/project."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import geomlib
from geomlib._src.planes import parse_extent


# --------------------------------------------------------------------------- plane()


def test_plane_orthonormalises_by_gram_schmidt():
    rng = np.random.default_rng(0)
    u, v, x0 = rng.normal(size=(3, 7))
    p = geomlib.plane(u, v, x0)
    assert p.u.shape == p.v.shape == p.origin.shape == (7,)
    np.testing.assert_allclose(np.asarray(p.u), u / np.linalg.norm(u), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose([p.u @ p.u, p.v @ p.v, p.u @ p.v], [1.0, 1.0, 0.0], atol=1e-6)
    # v' lies in span(u, v) and on the same side of u as v.
    w = v - (v @ p.u) * np.asarray(p.u)
    np.testing.assert_allclose(np.asarray(p.v), w / np.linalg.norm(w), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(p.origin), x0, rtol=1e-6)
    assert p.dim == 7


def test_plane_default_origin_is_zero():
    p = geomlib.plane([2.0, 0.0, 0.0], [1.0, 3.0, 0.0])
    np.testing.assert_array_equal(np.asarray(p.origin), np.zeros(3))
    np.testing.assert_allclose(np.asarray(p.v), [0.0, 1.0, 0.0])


def test_plane_dtypes(precision):
    dtype, _ = precision
    p = geomlib.plane(np.array([1.0, 2.0, 3.0]), [0, 1, 0], [1, 1, 1])  # ints accepted
    assert p.u.dtype == p.v.dtype == p.origin.dtype == dtype
    assert geomlib.float_dtype() == dtype
    assert geomlib.grid(3).dtype == dtype
    assert p.embed([0.5, 0.5]).dtype == dtype
    assert p.project(np.ones(3)).dtype == dtype


def test_plane_float64_is_accurate(x64):
    rng = np.random.default_rng(1)
    u = rng.normal(size=50)
    v = u + 1e-4 * rng.normal(size=50)  # nearly parallel but accepted (sine ~ 1e-4 > tol)
    p = geomlib.plane(u, v)
    q = np.stack([np.asarray(p.u), np.asarray(p.v)])
    np.testing.assert_allclose(q @ q.T, np.eye(2), atol=1e-12)


def test_nearly_parallel_float32_is_still_orthonormal():
    # Orthonormalised in float64 before rounding, so float32 output stays orthonormal.
    rng = np.random.default_rng(2)
    u = rng.normal(size=20)
    v = u + 1e-4 * rng.normal(size=20)
    p = geomlib.plane(u, v)
    np.testing.assert_allclose(float(p.u @ p.v), 0.0, atol=1e-6)
    np.testing.assert_allclose(float(p.v @ p.v), 1.0, atol=1e-6)


def _sine_of(u, v):
    u, v = np.asarray(u, float), np.asarray(v, float)
    w = v - (v @ u) / (u @ u) * u
    return np.linalg.norm(w) / np.linalg.norm(v)


@pytest.mark.parametrize(
    "u, v, origin, match",
    [
        ([1.0, 0.0, 0.0], [0.0, 1.0], None, r"v: expected shape \(3,\).*got \(2,\)"),
        ([1.0, 0.0], [0.0, 1.0], [0.0, 0.0, 0.0], r"origin: expected shape \(2,\).*got \(3,\)"),
        ([[1.0, 0.0]], [0.0, 1.0], None, r"u: expected a vector of shape \(D,\).*got shape \(1, 2\)"),
        ([1.0], [1.0], None, r"u: expected a vector .* D >= 2, got shape \(1,\)"),
        (1.0, [0.0, 1.0], None, r"u: expected a vector .*got shape \(\)"),
        ([1.0, 0.0], [0.0, 1.0], [[0.0, 0.0]], r"origin: expected a vector"),
        ([np.nan, 1.0], [0.0, 1.0], None, r"u: expected finite entries, got 1 non-finite"),
        ([1.0, 0.0], [np.inf, -np.inf], None, r"v: expected finite entries, got 2 non-finite"),
        ([1.0, 0.0], [0.0, 1.0], [0.0, np.nan], r"origin: expected finite entries"),
        ([0.0, 0.0, 0.0], [0.0, 1.0, 0.0], None, r"u: expected a nonzero direction, got the zero vector"),
        ([1.0, 0.0, 0.0], [0.0, 0.0, 0.0], None, r"v: expected a nonzero direction, got the zero vector"),
        ([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], None, r"u, v: expected two directions that are not parallel"),
        ([1.0, 2.0, 3.0], [-1.0, -2.0, -3.0], None, r"not parallel"),
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0 + 1e-7], None, r"not parallel.*below tol=1e-06"),
    ],
)
def test_plane_bad_input(u, v, origin, match):
    with pytest.raises(ValueError, match=match):
        geomlib.plane(u, v, origin)


def test_plane_parallel_tolerance_is_the_sine_of_the_angle():
    u = np.array([1.0, 0.0, 0.0])
    just_below = np.array([1.0, 5e-7, 0.0])  # sine 5e-7 < 1e-6
    just_above = np.array([1.0, 5e-6, 0.0])  # sine 5e-6 > 1e-6
    assert _sine_of(u, just_below) < 1e-6 < _sine_of(u, just_above)
    with pytest.raises(ValueError, match="not parallel"):
        geomlib.plane(u, just_below)
    geomlib.plane(u, just_above)
    with pytest.raises(ValueError, match="not parallel"):
        geomlib.plane(u, just_above, tol=1e-5)


# --------------------------------------------------------------------------- grids


def test_grid_layout_matches_imshow_origin_lower():
    coords = geomlib.grid((4, 3), ((-1.0, 2.0), (10.0, 11.0)))
    assert coords.shape == (3, 4, 2)  # (n_b, n_a, 2)
    a = np.linspace(-1.0, 2.0, 4)
    b = np.linspace(10.0, 11.0, 3)
    for i in range(3):
        for j in range(4):
            np.testing.assert_allclose(np.asarray(coords[i, j]), [a[j], b[i]], rtol=1e-6, atol=1e-6)


def test_grid_scalar_extent_and_method():
    p = geomlib.plane([1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    coords = p.grid(5, extent=1.5)
    np.testing.assert_array_equal(np.asarray(coords), np.asarray(geomlib.grid(5, 1.5)))
    np.testing.assert_allclose(np.asarray(coords[0, 0]), [-1.5, -1.5])
    np.testing.assert_allclose(np.asarray(coords[-1, -1]), [1.5, 1.5])
    assert geomlib.grid().shape == (64, 64, 2)
    assert geomlib.grid(np.int64(3)).shape == (3, 3, 2)


@pytest.mark.parametrize(
    "n, match",
    [
        (1, r"n: expected an integer >= 2.*got 1"),
        (0, "n: expected"),
        (-4, "n: expected"),
        (2.5, r"n: expected.*got 2.5"),
        ((3, 1), r"n: expected.*got \(3, 1\)"),
        ((3, 4, 5), r"n: expected.*got \(3, 4, 5\)"),
        (float("nan"), "n: expected"),
        (float("inf"), "n: expected"),
        ("many", "n: expected"),
    ],
)
def test_grid_bad_n(n, match):
    with pytest.raises(ValueError, match=match):
        geomlib.grid(n)


@pytest.mark.parametrize(
    "extent, match",
    [
        (0.0, r"extent: expected a finite positive half-width, got 0.0"),
        (-1.0, "extent: expected a finite positive half-width"),
        (float("nan"), "extent: expected a finite positive half-width"),
        (float("inf"), "extent: expected a finite positive half-width"),
        ((1.0, 2.0, 3.0), r"extent: expected a scalar or .*got shape \(3,\)"),
        (((0.0, 1.0),), r"got shape \(1, 2\)"),
        (((1.0, 0.0), (0.0, 1.0)), r"extent: expected finite ranges with min < max"),
        (((0.0, 1.0), (2.0, 2.0)), r"min < max"),
        (((0.0, np.nan), (0.0, 1.0)), r"expected finite ranges"),
        (((0.0, 1.0), (-np.inf, 1.0)), r"expected finite ranges"),
    ],
)
def test_grid_bad_extent(extent, match):
    with pytest.raises(ValueError, match=match):
        geomlib.grid(5, extent)
    with pytest.raises(ValueError, match=match):
        parse_extent(extent)


def test_parse_extent():
    assert parse_extent(2) == ((-2.0, 2.0), (-2.0, 2.0))
    assert parse_extent([[0, 1], [-3, 4]]) == ((0.0, 1.0), (-3.0, 4.0))


# --------------------------------------------------------------------------- embed / project


@pytest.mark.parametrize("lead", [(), (3,), (4, 5)])
def test_embed_project_roundtrip_and_shapes(lead):
    rng = np.random.default_rng(3)
    p = geomlib.plane(*rng.normal(size=(3, 6)))
    coords = rng.normal(size=lead + (2,))
    x = p.embed(coords)
    assert x.shape == lead + (6,)
    expected = np.asarray(p.origin) + coords[..., :1] * np.asarray(p.u) + coords[..., 1:] * np.asarray(p.v)
    np.testing.assert_allclose(np.asarray(x), expected, rtol=1e-5, atol=1e-6)
    back = p.project(x)
    assert back.shape == lead + (2,)
    np.testing.assert_allclose(np.asarray(back), coords, rtol=1e-5, atol=1e-5)


def test_project_is_the_orthogonal_projection():
    rng = np.random.default_rng(4)
    p = geomlib.plane(*rng.normal(size=(3, 5)))
    x = rng.normal(size=(8, 5))
    residual = x - np.asarray(p.embed(p.project(x)))
    np.testing.assert_allclose(residual @ np.asarray(p.u), 0.0, atol=1e-5)
    np.testing.assert_allclose(residual @ np.asarray(p.v), 0.0, atol=1e-5)


@pytest.mark.parametrize("coords", [np.zeros(3), np.zeros((4, 3)), np.float32(1.0), np.zeros((2, 1))])
def test_embed_bad_coords(coords):
    p = geomlib.plane([1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match=r"coords: expected shape \(\.\.\., 2\), got"):
        p.embed(coords)


@pytest.mark.parametrize("x", [np.zeros(2), np.zeros((4, 4)), np.float32(1.0)])
def test_project_bad_points(x):
    p = geomlib.plane([1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., 3\), got"):
        p.project(x)


# --------------------------------------------------------------------------- transformations


def test_plane_is_a_pytree_and_can_be_stacked():
    rng = np.random.default_rng(5)
    planes = [geomlib.plane(*rng.normal(size=(3, 4))) for _ in range(3)]
    stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *planes)
    assert isinstance(stacked, geomlib.Plane)
    assert stacked.u.shape == (3, 4) and stacked.dim == 4
    assert len(jax.tree_util.tree_leaves(stacked)) == 3
    coords = jnp.array([0.3, -0.7])
    x = jax.vmap(lambda p: p.embed(coords))(stacked)
    for i, p in enumerate(planes):
        np.testing.assert_allclose(np.asarray(x[i]), np.asarray(p.embed(coords)), rtol=1e-6)


def test_plane_under_jit_and_vmap_orthonormalises_in_graph():
    rng = np.random.default_rng(6)
    u, v, x0 = (jnp.asarray(a, jnp.float32) for a in rng.normal(size=(3, 5, 4)))
    batched = jax.vmap(geomlib.plane)(u, v, x0)
    jitted = jax.jit(geomlib.plane)(u[0], v[0], x0[0])
    for i in range(5):
        ref = geomlib.plane(u[i], v[i], x0[i])
        for got, want in zip(batched, ref):
            np.testing.assert_allclose(np.asarray(got[i]), np.asarray(want), rtol=1e-5, atol=1e-6)
    for got, want in zip(jitted, geomlib.plane(u[0], v[0], x0[0])):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)


def test_plane_under_jit_still_checks_shapes():
    with pytest.raises(ValueError, match=r"v: expected shape \(3,\)"):
        jax.jit(geomlib.plane)(jnp.ones(3), jnp.ones(4))


# ---------------------------------------------------------------- argument checks (issue 15)

_E4 = np.eye(4, dtype=np.float32)


@pytest.mark.parametrize("u, v, match", [
    (_E4[0], (_E4[0] + _E4[1]) / np.sqrt(np.float32(2)), "orthonormal"),   # not orthogonal: 0.179 for 0.5 before
    (2 * _E4[0], _E4[1], "orthonormal"),                                   # not unit length
    (_E4[0], _E4[1, :3], "shape"),                                         # another length
    (_E4[0] + 0j, _E4[1], "real"),                                         # complex
])
def test_plane_built_directly_is_checked_where_it_is_used(u, v, match):
    p = geomlib.Plane(0.1 * _E4[2], u, v)
    f = lambda x: x[0] - 0.25 * x[1] ** 2                                      # noqa: E731
    for call in (lambda: geomlib.plane_geometry(f, p, p.grid(3, 1.0) if match != "real" else np.zeros((3, 2))),
                 lambda: geomlib.plane_values(f, p, np.zeros((3, 2))),
                 lambda: geomlib.path_plane_coordinates(np.zeros((2, 4)), p)):
        with pytest.raises((ValueError, TypeError), match=match) as err:
            call()
        assert "plane" in str(err.value)
    if match == "orthonormal":
        assert "geomlib.plane(u, v, origin)" in str(err.value)


def test_plane_pytree_uses_are_not_checked():
    p = geomlib.plane(_E4[0], _E4[1], 0.1 * _E4[2])
    assert all(a is b for a, b in zip(geomlib.Plane(*p), p))
    assert geomlib.Plane(0, 0, None).v is None                                 # a vmap in_axes spec
    twice = jax.jit(lambda q: geomlib.Plane(q.origin, 2 * q.u, q.v))(p)         # a jit output
    assert float(jnp.linalg.norm(twice.u)) == pytest.approx(2.0)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, p)                          # tree_map, gradients
    assert float(jnp.sum(zeros.u)) == 0.0
    grads = jax.grad(lambda q: jnp.sum(q.embed(jnp.array([1.0, 2.0]))))(p)
    assert isinstance(grads, geomlib.Plane)
    stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), p, p)
    assert jax.vmap(lambda q: q.embed(jnp.array([1.0, 2.0])))(stacked).shape == (2, 4)


def test_plane_check_tolerates_float32_rounding():
    from geomlib._src.planes import check_plane
    u = jnp.asarray(np.random.default_rng(0).normal(size=784), jnp.float32)
    u = u / jnp.linalg.norm(u)
    v = jnp.roll(u, 1) - (jnp.roll(u, 1) @ u) * u
    p = geomlib.Plane(jnp.zeros(784), u, v / jnp.linalg.norm(v))
    assert check_plane(p) is p
    with pytest.raises(ValueError, match="plane.origin: expected finite"):
        check_plane(geomlib.Plane(jnp.full(784, jnp.nan), p.u, p.v))


@pytest.mark.parametrize("call", [
    lambda: geomlib.grid(2 ** 31), lambda: geomlib.grid((2 ** 15, 2 ** 15)),
    lambda: geomlib.plane([1.0, 0.0], [0.0, 1.0]).grid(10 ** 9),
])
def test_grid_refuses_sizes_beyond_the_limit(call):
    with pytest.raises(ValueError, match=r"n: .*2\*\*28"):
        call()


def test_grid_at_the_limit_edge_is_allowed_by_the_check():
    from geomlib._src.planes import MAX_GRID_VALUES
    assert MAX_GRID_VALUES == 2 ** 28
    assert geomlib.grid((2, 3)).shape == (3, 2, 2)


@pytest.mark.parametrize("extent, exc", [(None, TypeError), ("0.1", TypeError), (True, TypeError),
                                         (1 + 1j, TypeError), (0.0, ValueError)])
def test_grid_extent_types(extent, exc):
    with pytest.raises(exc, match="extent"):
        geomlib.grid(5, extent)


@pytest.mark.parametrize("kw, exc, match", [
    (dict(u=None), TypeError, "u"), (dict(v="abc"), TypeError, "v"), (dict(origin=_E4[0] + 1j), TypeError, "origin"),
    (dict(tol=None), ValueError, "tol"), (dict(tol=0.0), ValueError, "tol"), (dict(tol=float("nan")), ValueError, "tol"),
])
def test_plane_arguments(kw, exc, match):
    args = dict(u=_E4[0], v=_E4[1], origin=None, tol=1e-6) | kw
    with pytest.raises(exc, match=match):
        geomlib.plane(args.pop("u"), args.pop("v"), args.pop("origin"), **args)


@pytest.mark.parametrize("method, arg", [("embed", None), ("embed", "abc"), ("project", np.full((2, 4), np.nan)),
                                         ("project", np.ones(4) + 1j)])
def test_embed_and_project_check_their_input(method, arg):
    p = geomlib.plane(_E4[0], _E4[1])
    with pytest.raises((TypeError, ValueError), match="coords" if method == "embed" else "x"):
        getattr(p, method)(arg)


def test_check_plane():
    from geomlib._src.planes import check_plane
    p = geomlib.plane(_E4[0], _E4[1])
    assert check_plane(p) is p
    skew = geomlib.Plane(p.origin, p.u, (p.u + p.v) / np.sqrt(2))
    with pytest.raises(ValueError, match="plane: expected orthonormal u, v"):
        check_plane(skew)
    with pytest.raises(TypeError, match="plane.u"):
        check_plane(geomlib.Plane(p.origin, None, p.v))
    with pytest.raises(ValueError, match="plane"):
        check_plane("abc")
