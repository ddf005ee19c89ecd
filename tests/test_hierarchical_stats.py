"""Statistics of chapter 8 with several seeds per configuration (seed_spread,
hierarchical_rank_correlation) and across the images of one model (per_image_correlation)."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import geomlib as g

B = 30


def _measures(msd, dist, curvature=None, pgd=None):
    """ClassifierMeasures of B images with the given MSDs and DeepFool distances."""
    msd, dist = np.asarray(msd, float), np.asarray(dist, float)
    b = msd.size
    nan = np.full(b, np.nan)
    k = np.full((b, 2), np.nan) if curvature is None else np.asarray(curvature, float)
    return g.ClassifierMeasures(
        label=np.zeros(b, int), target=np.ones(b, int), deepfool_class=np.ones(b, int), deepfool_distance=dist,
        boundary_distance=dist, boundary_curvature=k, logit_bend=np.zeros((b, 2)), msd=msd,
        msd_reached=np.ones(b, bool), pgd_correct=np.ones((1, b), bool) if pgd is None else pgd,
        template_deepfool=nan, template_msd=nan, first_layer_bend=np.zeros((0, 0)),
        first_layer_kind=np.zeros(0, str), eps=np.array([0.1]), seconds={})


def _family(n_conf, seeds, spread=0.0, seed=0):
    """Configurations whose MSD and distance rise together, each with ``seeds`` noisy models."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.5, 1.5, B)
    out = {}
    for c in range(n_conf):
        out[f"c{c}"] = {}
        for s in range(seeds):
            jitter = spread * rng.normal(size=2)
            out[f"c{c}"][f"s{s}"] = _measures((1 + c + jitter[0]) * base * rng.uniform(0.9, 1.1, B),
                                              (1 + 0.5 * c + jitter[1]) * base * rng.uniform(0.9, 1.1, B))
    return out


def test_seed_spread():
    groups = _family(3, 3, spread=0.3)
    spread = g.seed_spread(groups, "msd")
    for c, seeds in groups.items():
        v = [float(np.mean(m.msd)) for m in seeds.values()]
        s = spread[c]
        assert s.mean == pytest.approx(np.mean(v)) and s.sd == pytest.approx(np.std(v, ddof=1)) and s.n_seeds == 3
        assert list(s.values) == list(seeds)
    one = g.seed_spread({"a": {"0": groups["c0"]["s0"]}}, "pgd@0.1")["a"]
    assert one.mean == 1.0 and np.isnan(one.sd) and one.n_seeds == 1
    # a seed whose statistic is undefined is left out and counted out
    undefined = groups["c0"]["s1"]._replace(msd=np.full(B, np.nan))
    s = g.seed_spread({"a": {"0": groups["c0"]["s0"], "1": undefined}}, "msd")["a"]
    assert s.n_seeds == 1 and s.mean == pytest.approx(np.mean(groups["c0"]["s0"].msd))


@pytest.mark.parametrize("groups, statistic, name", [(None, "msd", "groups"), ({}, "msd", "groups"),
                                                      ({"a": {}}, "msd", "groups"), ({"a": {"0": 1}}, "msd", "groups"),
                                                      ("FAM", "nonexistent", "statistic"), ("FAM", 3, "statistic")])
def test_seed_spread_bad_arguments(groups, statistic, name):
    groups = _family(3, 2) if groups == "FAM" else groups
    with pytest.raises(ValueError, match=name):
        g.seed_spread(groups, statistic)


def test_one_seed_per_configuration_is_rank_correlation():
    groups = _family(6, 1)
    models = {c: s["s0"] for c, s in groups.items()}
    h = g.hierarchical_rank_correlation(groups, "msd", "deepfool_distance", n_boot=50, n_perm=99)
    r = g.rank_correlation(models, "msd", "deepfool_distance", n_boot=50)
    assert h.rho == r.rho and (h.low, h.high) == (r.low, r.high)
    np.testing.assert_array_equal(h.samples, r.samples)
    assert h.rho_models == h.rho and h.p_models == h.p_value and h.n_configurations == h.n_models == 6


def test_identical_seeds_change_nothing_but_the_model_count():
    one = _family(5, 1)
    three = {c: {f"s{i}": s["s0"] for i in range(3)} for c, s in one.items()}
    a = g.hierarchical_rank_correlation(one, "msd", "deepfool_distance", n_boot=40, n_perm=999)
    b = g.hierarchical_rank_correlation(three, "msd", "deepfool_distance", n_boot=40, n_perm=999)
    assert a.rho == b.rho and a.p_value == b.p_value
    np.testing.assert_array_equal(a.samples, b.samples)
    assert b.n_models == 15 and b.p_models < a.p_models       # models as units: 15 of them, optimistic


def test_seed_variation_widens_the_interval():
    quiet = g.hierarchical_rank_correlation(_family(6, 3, spread=0.0), "msd", "deepfool_distance", n_boot=200,
                                            n_perm=99)
    noisy = g.hierarchical_rank_correlation(_family(6, 3, spread=1.5), "msd", "deepfool_distance", n_boot=200,
                                            n_perm=99)
    assert quiet.low == pytest.approx(1.0) and quiet.high == pytest.approx(1.0)
    assert noisy.high - noisy.low > 0.2


def _two_sided_exact(a, b):
    ra, rb = stats.rankdata(a), stats.rankdata(b)
    rho = np.corrcoef(ra, rb)[0, 1]
    null = np.array([np.corrcoef(ra[list(p)], rb)[0, 1] for p in itertools.permutations(range(len(a)))])
    return min(1.0, 2 * min(np.mean(null >= rho - 1e-12), np.mean(null <= rho + 1e-12)))


def test_permutation_test_exact_and_monte_carlo():
    groups = _family(6, 2, spread=0.8, seed=4)
    h = g.hierarchical_rank_correlation(groups, "msd", "deepfool_distance", n_boot=20, n_perm=99)
    means = g.seed_spread(groups, "msd"), g.seed_spread(groups, "deepfool_distance")
    a, b = (np.array([s[c].mean for c in groups]) for s in means)
    assert h.rho == pytest.approx(stats.spearmanr(a, b).statistic)
    assert h.p_value == pytest.approx(_two_sided_exact(a, b))
    assert "exact over 6! = 720 orderings" in h.test and "Monte Carlo over 99" in h.test_models
    big = g.hierarchical_rank_correlation(_family(10, 1), "msd", "deepfool_distance", n_boot=20, n_perm=199)
    assert big.rho == pytest.approx(1.0) and big.p_value == pytest.approx(2 / 200) and "Monte Carlo" in big.test
    assert "Monte Carlo" in repr(big)


@pytest.mark.parametrize("kw, name", [(dict(groups="TWO"), "groups"), (dict(x_stat="nonexistent"), "x_stat"),
                                      (dict(y_stat=None), "y_stat"), (dict(n_boot=0), "n_boot"),
                                      (dict(n_perm=2.5), "n_perm"), (dict(level=1.5), "level"),
                                      (dict(seed=-1), "seed"), (dict(groups="SIZES"), "groups")])
def test_hierarchical_bad_arguments(kw, name):
    fam = _family(3, 2)
    if kw.get("groups") == "TWO":
        kw["groups"] = dict(list(fam.items())[:2])
    elif kw.get("groups") == "SIZES":
        kw["groups"] = {**fam, "odd": {"0": _measures(np.ones(5), np.ones(5))}}
    with pytest.raises(ValueError, match=name):
        g.hierarchical_rank_correlation(**{**dict(groups=fam, x_stat="msd", y_stat="deepfool_distance"), **kw})


def test_per_image_correlation():
    rng = np.random.default_rng(0)
    r = rng.uniform(0.5, 2, 60)
    kappa = np.stack([rng.uniform(0, 3, 60), rng.uniform(-1, 0, 60)], axis=1)
    kappa[:4] = np.nan
    m = _measures(np.ones(60), r, curvature=kappa)
    found = 1 / kappa[:, 0] + 0.1 * rng.normal(size=60)
    found[10] = np.inf
    c = g.per_image_correlation(m, "largest_curvature", found, n_boot=300, n_perm=499)
    ok = np.isfinite(kappa[:, 0]) & np.isfinite(found)
    largest = np.max(np.abs(kappa), axis=1)
    assert c.rho == pytest.approx(stats.spearmanr(largest[ok], found[ok]).statistic)
    assert c.n_images == 55 and c.n_dropped == 5
    assert c.rho < -0.5 and c.low <= c.rho <= c.high < 0 and c.p_value == pytest.approx(2 / 500)
    assert "Monte Carlo over 499" in c.test and c.samples.shape == (300,)
    # signed maximum and r kappa
    signed = g.per_image_correlation(m, "max_curvature", found, n_boot=5, n_perm=9)
    assert signed.rho == pytest.approx(stats.spearmanr(kappa[ok, 0], found[ok]).statistic)
    rk = g.per_image_correlation(m, "r_kappa", r * largest, n_boot=5, n_perm=9)
    assert rk.rho == pytest.approx(1.0)
    small = g.per_image_correlation(_measures(np.arange(5.0), np.ones(5)), "msd", [1.0, 3, 2, 5, 4], n_boot=5)
    assert "exact over 5! = 120" in small.test


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(-100, 100), min_size=4, max_size=12, unique=True), st.integers(0, 1000))
def test_per_image_rank_invariance(values, seed):
    y = np.array(values, float)
    m = _measures(np.random.default_rng(seed).permutation(len(y)).astype(float), np.ones(len(y)))
    a = g.per_image_correlation(m, "msd", y, n_boot=5, n_perm=19, seed=seed)
    b = g.per_image_correlation(m, "msd", np.exp(y / 50), n_boot=5, n_perm=19, seed=seed)   # monotone
    c = g.per_image_correlation(m, "msd", -y, n_boot=5, n_perm=19, seed=seed)
    assert a.rho == pytest.approx(b.rho) and a.p_value == pytest.approx(b.p_value)
    assert c.rho == pytest.approx(-a.rho)


@pytest.mark.parametrize("kw, name", [(dict(measures=None), "measures"), (dict(x_field="nonexistent"), "x_field"),
                                      (dict(y_values=np.ones(3)), "y_values"), (dict(y_values="abc"), "y_values"),
                                      (dict(n_boot=-1), "n_boot"), (dict(level=0.0), "level")])
def test_per_image_bad_arguments(kw, name):
    base = dict(measures=_measures(np.ones(B), np.ones(B)), x_field="msd", y_values=np.ones(B))
    with pytest.raises((ValueError, TypeError), match=name):
        g.per_image_correlation(**{**base, **kw})
