"""Tests for geomlib._src.contours (fitted contour bend) and for the agreement between
exact autodiff curvature and contours extracted by ``skimage.measure.find_contours``."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.tree_util import Partial
from skimage import measure

import geomlib


def bent(x0, u, v, coef, x):
    """g(a, b) = s (a - c b^2 - e log(1 + b^2)) + o with coef = (c, e, s, o).

    Its contour at level L is a = (L - o)/s + c b^2 + e log(1 + b^2): a parabola for
    e = 0, a non-quadratic bend otherwise. One function for every case, so the jitted
    kernels compile once per grid size.
    """
    d = x - x0
    a, b = d @ u, d @ v
    c, e, s, o = coef[0], coef[1], coef[2], coef[3]
    return s * (a - c * b**2 - e * jnp.log1p(b**2)) + o


def relu_pair(w1, w2, x):
    return jax.nn.relu(w1 @ x) + jax.nn.relu(w2 @ x)


def _bent(p, c=0.0, e=0.0, s=1.0, o=0.0):
    return Partial(bent, p.origin, p.u, p.v, jnp.asarray([c, e, s, o], geomlib.float_dtype()))


@pytest.fixture(scope="module")
def plane3():
    return geomlib.plane([1.0, 0.5, 0.0], [0.0, 1.0, 1.0], [0.2, -0.3, 0.4])


def _np(x):
    return np.asarray(x, np.float64)


# ----------------------------------------------------------------------------- fit_contour_curvature


@pytest.mark.parametrize("c", [-0.7, -0.2, 0.1, 0.4, 1.0])
def test_parabola_returns_c(c, plane3):
    fit = geomlib.fit_contour_curvature(_bent(plane3, c), plane3, 0.5, n=90, return_fit=True)
    assert isinstance(fit, geomlib.ContourFit)
    # find_contours interpolates linearly between grid points; along b the response is
    # quadratic, so contour points are off the parabola by O(h^2 c): measured < 3e-4
    # at h = 4/89, hence the 2e-3 tolerance (relative to max(|c|, 0.1)).
    assert abs(fit.c2 - c) < 2e-3 * max(abs(c), 0.1)
    assert abs(fit.c0 - 0.5) < 2e-3 and abs(fit.c1) < 2e-3
    pts = fit.points
    assert pts.ndim == 2 and pts.shape[1] == 2 and len(pts) > 20
    assert np.all(pts[:, 0] > 0) and np.all(np.abs(pts) <= 2.0 + 1e-6)
    np.testing.assert_allclose(pts[:, 0], 0.5 + c * pts[:, 1] ** 2, atol=2e-3)
    assert geomlib.fit_contour_curvature(_bent(plane3, c), plane3, 0.5, n=90) == fit.c2


def test_parabola_fit_converges_with_resolution(plane3):
    errors = [abs(geomlib.fit_contour_curvature(_bent(plane3, -0.7), plane3, 0.5, n=n) + 0.7) for n in (30, 300)]
    assert errors[1] < errors[0] / 5


def test_result_is_in_plane_units_and_independent_of_resolution(plane3):
    """A smooth non-quadratic contour a = L + 0.5 log(1 + b^2).

    The fit is an unweighted least-squares over the points where the contour crosses
    grid edges. Their density along the contour has the same shape at every n, so the
    fit converges; what changes with n is which crossings fall near the ends of the
    contour piece (window border), a first-order effect in h / length (h = 4/29,
    length ~ 4.5: at most a few percent at n = 30; measured 0.2% between n = 30 and
    90 here, 2% on other windows), hence 3%. In grid-index units the coefficient
    would instead scale like 1/(n - 1): a factor 3 between n = 30 and n = 90.
    """
    f = _bent(plane3, 0.0, 0.5)
    c30, c90, c300 = (geomlib.fit_contour_curvature(f, plane3, 0.3, n=n) for n in (30, 90, 300))
    assert 0.15 < c300 < 0.3
    assert abs(c30 - c90) < 0.03 * abs(c90)
    assert abs(c90 - c300) < abs(c30 - c300)


def test_normalize(plane3):
    extent, n = 2.0, 90
    raw = _bent(plane3, 0.4)
    scaled = _bent(plane3, 0.4, s=3.0, o=5.0)  # 3 g + 5: same min-max normalised field
    fit = geomlib.fit_contour_curvature(raw, plane3, 0.5, extent, n=n, normalize=True, return_fit=True)
    fit_scaled = geomlib.fit_contour_curvature(scaled, plane3, 0.5, extent, n=n, normalize=True, return_fit=True)
    np.testing.assert_allclose([fit_scaled.c0, fit_scaled.c1, fit_scaled.c2], [fit.c0, fit.c1, fit.c2], rtol=1e-4, atol=1e-6)
    # Level 0.5 of the normalised field is the raw level halfway between min and max.
    values = _np(geomlib.plane_values(raw, plane3, geomlib.grid(n, extent)))
    mid = 0.5 * (values.min() + values.max())
    unnormalised = geomlib.fit_contour_curvature(raw, plane3, mid, extent, n=n, return_fit=True)
    np.testing.assert_allclose([fit.c0, fit.c1, fit.c2], [unnormalised.c0, unnormalised.c1, unnormalised.c2], rtol=1e-6, atol=1e-9)
    assert abs(fit.c2 - 0.4) < 2e-3 and abs(fit.c0 - mid) < 2e-3


def test_nan_when_no_contour_in_the_window(plane3):
    f = _bent(plane3, 0.4)
    assert np.isnan(geomlib.fit_contour_curvature(f, plane3, 100.0, n=30))
    fit = geomlib.fit_contour_curvature(f, plane3, 100.0, n=30, return_fit=True)
    assert np.isnan([fit.c0, fit.c1, fit.c2]).all() and fit.points.shape == (0, 2)
    # Constant response: nothing to normalise, no contour.
    assert np.isnan(geomlib.fit_contour_curvature(_bent(plane3, s=0.0, o=1.0), plane3, 0.5, n=30, normalize=True))


def test_positive_side_keeps_only_the_mei_side(plane3):
    f = _bent(plane3)  # g = a: the contour at level -1 is the line a = -1
    assert np.isnan(geomlib.fit_contour_curvature(f, plane3, -1.0, n=30))
    fit = geomlib.fit_contour_curvature(f, plane3, -1.0, n=30, positive_side=False, return_fit=True)
    np.testing.assert_allclose([fit.c0, fit.c1, fit.c2], [-1.0, 0.0, 0.0], atol=1e-5)


def test_global_fit_sees_the_bend_of_a_relu_network():
    """Exact curvature of relu(a + b) + relu(a - b) is 0 wherever defined, but its
    contour bends back toward smaller a at the kinks: endo-origin, c2 < 0."""
    p = geomlib.plane([1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    f = Partial(relu_pair, p.u + p.v, p.u - p.v)
    assert np.all(_np(geomlib.plane_geometry(f, p, jnp.array([[1.0, 0.2], [1.0, 0.9], [0.5, -1.0]])).curvature) == 0)
    assert geomlib.fit_contour_curvature(f, p, 1.0, n=90) < -0.05


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5, -0.2])
def test_normalized_level_must_be_a_fraction(level, plane3):
    with pytest.raises(ValueError, match=r"level: with normalize=True expected a fraction in \(0, 1\), got"):
        geomlib.fit_contour_curvature(_bent(plane3), plane3, level, n=30, normalize=True)


@pytest.mark.parametrize("level", [np.nan, np.inf])
def test_level_must_be_finite(level, plane3):
    with pytest.raises(ValueError, match=r"level: expected a finite response level"):
        geomlib.fit_contour_curvature(_bent(plane3), plane3, level, n=30)


@pytest.mark.parametrize("kwargs, match", [(dict(n=1), "n: expected"), (dict(extent=-1.0), "extent: expected")])
def test_bad_grid_arguments(kwargs, match, plane3):
    with pytest.raises(ValueError, match=match):
        geomlib.fit_contour_curvature(_bent(plane3), plane3, 0.5, **kwargs)


# ----------------------------------------------------------------------------- contour_points


def test_contour_points_of_a_linear_field_are_exact():
    coords = geomlib.grid((7, 5), ((-1.0, 2.0), (0.0, 1.0)))
    values = 2.0 * _np(coords[..., 0]) + _np(coords[..., 1])
    pieces = geomlib.contour_points(values, coords, 1.0)
    assert len(pieces) == 1 and pieces[0].shape[1] == 2 and len(pieces[0]) >= 5
    pts = pieces[0]
    # Linear interpolation is exact for a linear field: every point is on 2a + b = 1.
    np.testing.assert_allclose(2 * pts[:, 0] + pts[:, 1], 1.0, atol=1e-6)
    assert np.all((pts[:, 1] >= 0) & (pts[:, 1] <= 1))
    assert geomlib.contour_points(values, coords, 10.0) == []


@pytest.mark.parametrize(
    "values_shape, coords_shape", [((5,), (5, 2)), ((4, 5), (5, 4, 2)), ((4, 5), (4, 5)), ((4, 5, 1), (4, 5, 2))]
)
def test_contour_points_bad_shapes(values_shape, coords_shape):
    with pytest.raises(ValueError, match=r"expected values \(n_b, n_a\) and coords \(n_b, n_a, 2\), got"):
        geomlib.contour_points(np.zeros(values_shape), np.zeros(coords_shape), 0.5)


# ----------------------------------------------------------------------------- autodiff vs find_contours


def _find_contours_curvature(f, p, point, grad, half, n):
    """Curvature of the contour through ``point`` measured on skimage's polyline only.

    Samples g on an n x n grid of half-width ``half`` around the point, extracts the
    contour at g(point) with ``skimage.measure.find_contours`` (independently of
    geomlib.contour_points), and fits s_n = c1 s_t + c2 s_t^2 + ... in the frame of
    the tangent s_t and the direction of increasing response s_n; the signed curvature
    is 2 c2 / (1 + c1^2)^(3/2) (positive: bends toward increasing response, exo-origin).
    """
    extent = ((point[0] - half, point[0] + half), (point[1] - half, point[1] + half))
    coords = p.grid(n, extent)
    values = _np(geomlib.plane_values(f, p, coords))
    level = float(geomlib.plane_values(f, p, jnp.asarray(point)))
    a, b = _np(coords[0, :, 0]), _np(coords[:, 0, 1])
    pts = []
    for rc in measure.find_contours(values, level):
        pts.append(np.stack([np.interp(rc[:, 1], np.arange(n), a), np.interp(rc[:, 0], np.arange(n), b)], -1))
    pts = np.concatenate(pts)
    normal = grad / np.linalg.norm(grad)
    tangent = np.array([-normal[1], normal[0]])
    d = pts - point
    s_t, s_n = d @ tangent, d @ normal
    keep = np.hypot(s_t, s_n) < half  # the piece through the point, inside the disc
    coef = np.polyfit(s_t[keep], s_n[keep], 4)
    c2, c1 = coef[-3], coef[-2]
    return 2 * c2 / (1 + c1**2) ** 1.5


def test_autodiff_curvature_agrees_with_find_contours(x64, smooth_model, rand_plane):
    """Tolerance 1e-3 (measured <= 1e-4): the window reaches 0.1 radius of curvature on
    each side of the point, where the quartic fit's truncation error is ~1e-4 relative;
    find_contours' linear interpolation moves points by ~h^2 kappa / 8 (h = window / 60),
    ~1e-5 of the sagitta's scale, below that. Both are far below a wrong sign or a
    wrong formula (the chosen points have |kappa| ~ 0.4)."""
    f = smooth_model(0, 4)
    p = rand_plane(0, 4)
    candidates = _np(p.grid(9, 1.5).reshape(-1, 2))
    geo = geomlib.plane_geometry(f, p, candidates)
    kappa = _np(geo.curvature)
    gnorm = np.linalg.norm(_np(geo.grad), axis=-1)
    usable = np.flatnonzero(gnorm > 0.3 * gnorm.max())
    chosen = usable[np.argsort(-np.abs(kappa[usable]))[:3]]
    assert np.abs(kappa[chosen]).min() > 0.2
    for i in chosen:
        measured = _find_contours_curvature(f, p, candidates[i], _np(geo.grad[i]), 0.1 / abs(kappa[i]), 61)
        np.testing.assert_allclose(measured, kappa[i], rtol=1e-3)


# ---------------------------------------------------------------- argument checks and edges (issue 15)

def _bowl(x):
    return x[0] - 0.25 * x[1] ** 2 + 0.05 * jnp.sum(x[2:] ** 2)


def _plane4():
    e = np.eye(4, dtype=np.float32)
    return geomlib.plane(e[0], e[1], 0.1 * e[2])


def test_fit_contour_curvature_warns_when_the_contour_is_not_resolved():
    import warnings
    p = _plane4()
    with pytest.warns(RuntimeWarning, match=r"extent=10000.0, n=64.*not resolved"):
        c2 = geomlib.fit_contour_curvature(Partial(_bowl), p, 0.3, 1e4, n=64)
    assert abs(c2 - 0.25) > 0.1                                    # the 0.466: why it warns
    with warnings.catch_warnings():
        warnings.simplefilter("error")                             # resolved: no warning, the exact 0.25
        assert geomlib.fit_contour_curvature(Partial(_bowl), p, 0.3, 10.0, n=64) == pytest.approx(0.25, abs=1e-3)


@pytest.mark.parametrize("kw, exc, match", [
    (dict(n=2 ** 31), ValueError, "n"), (dict(level=None), TypeError, "level"), (dict(level="0.1"), TypeError, "level"),
    (dict(level=True), TypeError, "level"), (dict(extent="0.1"), TypeError, "extent"), (dict(extent=None), TypeError, "extent"),
])
def test_fit_contour_curvature_arguments(kw, exc, match):
    args = dict(level=0.3, extent=2.0, n=16) | kw
    with pytest.raises(exc, match=match):
        geomlib.fit_contour_curvature(Partial(_bowl), _plane4(), args.pop("level"), args.pop("extent"), **args)


@pytest.mark.parametrize("kw, exc, match", [
    (dict(values="abc"), TypeError, "values"), (dict(values=np.ones((5, 5)) + 1j), TypeError, "values"),
    (dict(coords=np.full((5, 5, 2), np.nan)), ValueError, "coords"), (dict(level=None), TypeError, "level"),
    (dict(level=float("nan")), ValueError, "level"), (dict(level=True), TypeError, "level"),
])
def test_contour_points_arguments(kw, exc, match):
    coords = np.asarray(geomlib.grid(5, 1.0))
    args = dict(values=coords[..., 0], coords=coords, level=0.2) | kw
    with pytest.raises(exc, match=match):
        geomlib.contour_points(**args)


def test_contour_points_nan_values_mark_undefined_points():
    coords = np.asarray(geomlib.grid(5, 1.0))
    values = coords[..., 0].copy()
    values[0, 0] = np.nan
    pieces = geomlib.contour_points(values, coords, 0.2)
    assert pieces and all(np.all(np.isfinite(q)) for q in pieces)
