"""geomlib.plots.conclusions (chapter 9's table) and geomlib.plots.opening (chapter 1's figure):
verdict rules on hand-made results, the table's Markdown, result files found on disk, bad input."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from pathlib import Path  # noqa: E402
import pytest  # noqa: E402

import geomlib  # noqa: E402
from geomlib import plots  # noqa: E402


def _survey(c2, model="lca", n_cols=(2, 2), n=4):
    """A SurveyResult with the given bends: ``c2`` (neurons, comparison + random planes)."""
    c2 = np.asarray(c2, np.float32)
    shape = c2.shape
    kind = np.array(["comparison"] * n_cols[0] + ["random"] * n_cols[1])
    return geomlib.SurveyResult(c2=c2, c0=np.zeros(shape, np.float32), c1=np.zeros(shape, np.float32),
                                n_valid=np.full(shape, 9, np.int32), angle=np.full(shape, 30.0),
                                partner=np.zeros(shape, np.int64), kind=kind, neurons=np.arange(shape[0]),
                                model=model, config={"model": model, "dictionary_shape": [256, n], "seconds": 1.0})


def _findings_by_claim(findings):
    return {f.claim: f for f in findings}


def test_survey_findings_reproduced_and_not():
    grows = {"a/lca": _survey([[0.2, 0.3, 0.1, 0.05]], n=512), "b/lca": _survey([[0.4, 0.5, 0.2, 0.1]], n=1024),
             "c/lca": _survey([[0.6, 0.7, 0.3, 0.2]], n=2560), "a/relu": _survey([[0.0, 0.0, 0.0, 0.0]], "relu")}
    f = _findings_by_claim(plots.survey_findings(grows, "test"))
    assert f["LCA neurons' contours bend exo-origin"].verdict == "reproduced"
    assert f["competitors' planes bend more"].verdict == "reproduced"
    assert f["bend grows with overcompleteness"].verdict == "reproduced"
    assert f["straight contours without competition"].verdict == "reproduced"
    assert all(x.basis == "test" and "Paiton et al. 2020" in x.published for x in f.values())
    # the 10x dictionary bends less than the 4x one in comparison planes: only partly
    flat = dict(grows, **{"c/lca": _survey([[0.3, 0.3, 0.3, 0.2]], n=2560)})
    assert _findings_by_claim(plots.survey_findings(flat, "t"))["bend grows with overcompleteness"].verdict == "partly"
    # two sizes only: at best partly; endo-origin planes and random > comparison: not reproduced
    two = {k: v for k, v in grows.items() if not k.startswith("c/")}
    assert _findings_by_claim(plots.survey_findings(two, "t"))["bend grows with overcompleteness"].verdict.startswith(
        "partly")
    bad = _findings_by_claim(plots.survey_findings({"a/lca": _survey([[-0.2, 0.1, 0.3, 0.4]])}, "t"))
    assert bad["LCA neurons' contours bend exo-origin"].verdict == "not reproduced"
    assert bad["competitors' planes bend more"].verdict == "not reproduced"
    assert plots.survey_findings({}, "t") == []


@pytest.mark.parametrize("ratio, verdict", [(2.0, "reproduced"), (1.3, "partly"), (1.05, "not reproduced"),
                                            (0.5, "not reproduced")])
def test_msd_rule(ratio, verdict):
    # published 2-layer ratio 0.0134 / 0.0069 = 1.94: reproduced from sqrt(1.94) = 1.39
    msd = {"mlp-2": np.array([0.01, 0.01, np.nan]), "lca-mlp-2": np.array([0.01, 0.01]) * ratio}
    (f,) = plots.msd_findings(msd, "test")
    assert f.verdict == verdict and f.chapter == 6
    assert f"ratio {ratio:.2f}" in f.ours and "0.0134" in f.published


def test_msd_templates_and_missing_pairs():
    msd = {m: np.full(3, 0.01) for m in ("mlp-2", "lca-mlp-2", "mlp-3", "lca-mlp-3")}
    templates = {"mlp-2": [0.3] * 3, "lca-mlp-2": [0.5] * 3, "mlp-3": [0.3] * 3, "lca-mlp-3": [0.2] * 3}
    f = plots.msd_findings(msd, "t", templates=templates)
    assert len(f) == 3 and f[-1].verdict == "not reproduced"  # lca-mlp-3 draws the target less
    assert plots.msd_findings({"mlp-2": [0.01]}, "t") == []


def test_accuracy_findings():
    (f,) = plots.accuracy_findings({"mlp-2": 0.4, "lca-mlp-2": 0.8, "linear": 0.1}, 0.05, "t", attack="PGD-10")
    assert f.verdict == "new here" and "lca-mlp-2 80% vs mlp-2 40%" in f.ours and "PGD-10" in f.claim
    assert plots.accuracy_findings({"linear": 0.1}, 0.05, "t") == []


def test_findings_table_links_and_escapes():
    rows = [plots.Finding(2, "a | b", "p", "max |c2| 0", "x", "reproduced"), plots.Finding(9, "c", "p", "o", "x", "new here")]
    table = plots.findings_table(rows, {2: "02-linear-neurons.ipynb"})
    lines = table.splitlines()
    assert len(lines) == 4 and lines[0].startswith("| chapter |")
    assert "[2](02-linear-neurons.ipynb)" in lines[2] and r"a \| b" in lines[2] and "**reproduced**" in lines[2]
    assert lines[3].startswith("| 9 |")


def test_find_result_files(tmp_path):
    geomlib.save_survey({"patches-2x/lca": _survey([[0.1, 0.2, 0.0, 0.1]])}, tmp_path / "sub" / "survey.npz")
    np.savez(tmp_path / "junk.npz", a=np.zeros(3))
    (tmp_path / "damaged.npz").write_bytes(b"not a zip")
    found = plots.find_result_files(tmp_path)
    assert list(found.surveys) == ["sub/survey.npz"] and list(found.surveys["sub/survey.npz"]) == ["patches-2x/lca"]
    assert found.comparisons == {} and found.robustness == {}
    assert plots.find_result_files(tmp_path / "missing") == plots.ResultFiles({}, {}, {})
    with pytest.raises(TypeError, match="directory"):
        plots.find_result_files(None)


def test_plot_adversarial_examples():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=16)
    adv = np.clip(x + rng.normal(scale=0.1, size=(2, 3, 16)), 0, 1)
    axes = plots.plot_adversarial_examples(x, adv, ["m1", "m2"], ["a", "b", "c"],
                                           captions=[["c"] * 4, ["d"] * 4])
    assert axes.shape == (2, 7)
    assert axes[0, 1].images[0].get_clim() == pytest.approx((-np.abs(adv - x)[:, 0].max(), np.abs(adv - x)[:, 0].max()))
    assert axes[1, 2].images[0].get_clim() == (0.0, 1.0) and axes[1, 0].get_ylabel() == "m2"
    plt.close("all")
    for bad, match in [(dict(x_adv=adv[..., :4]), "x_adv"), (dict(row_labels=["m1"]), "row_labels"),
                       (dict(column_labels=["a"]), "column_labels"), (dict(vmax=[0.1, 0.0, 0.1]), "vmax"),
                       (dict(captions=[["c"] * 3, ["d"] * 3]), "captions"), (dict(shape=(3, 3)), "shape")]:
        kw = dict(x_adv=adv, row_labels=["m1", "m2"], column_labels=["a", "b", "c"], **{})
        kw.update(bad)
        with pytest.raises(ValueError, match=match):
            plots.plot_adversarial_examples(x, **kw)
    plt.close("all")


def test_robustness_findings():
    run = {"settings": {"eps": [0.1, 0.05]},
           "worst/mlp-2/pgd10": np.array([[1, 0, 0, 0], [1, 1, 0, 0]], bool),
           "worst/mlp-2/robust": np.array([[0, 0, 0, 0], [1, 0, 0, 0]], bool),
           "worst/lca-mlp-2/pgd10": np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool),
           "worst/lca-mlp-2/robust": np.array([[1, 0, 0, 0], [1, 1, 0, 0]], bool),
           "minimal/mlp-2/distance": np.array([1.0, 2.0, np.inf]), "minimal/lca-mlp-2/distance": np.array([3.0, np.inf])}
    acc, dist = plots.robustness_findings(run, "t")
    assert "ε = 0.05" in acc.claim and "lca-mlp-2 100% → 50%, mlp-2 50% → 25%" in acc.ours  # the smaller radius
    assert "lca-mlp-2 3.00 vs mlp-2 1.50" in dist.ours and "1-2 digits per model" in dist.ours and acc.verdict == dist.verdict == "new here"
    assert plots.robustness_findings({"settings": {"eps": [0.1]}}, "t") == []


def test_comparison_findings_on_the_shipped_comparison():
    """The chapter-9 findings of chapter 8's committed file: the rank correlation carries its
    interval over digits and the permutation test over models."""
    path = Path(__file__).resolve().parents[1] / "notebooks" / "results" / "defense-mnist-24.npz"
    results, meta = geomlib.load_comparison(path)
    found = plots.comparison_findings(results, "t", n_boot=50)
    (corr,) = [f for f in found if f.claim == "more curved boundary, farther boundary"]
    assert f"over {len(results)} models" in corr.ours and "permutation test over models p = " in corr.ours
    p = float(corr.ours.rsplit("p = ", 1)[1].rstrip(")"))
    want = geomlib.hierarchical_rank_correlation({m: {"s": r} for m, r in results.items()}, "boundary_curvature",
                                                 "deepfool_distance", n_boot=1).p_value
    assert 0 < p <= 1 and abs(p - want) <= 0.005


def test_comparison_findings_group_the_seeds_of_a_configuration():
    """A seeded file: its seeds ``<name>-s<k>`` are one configuration of the rank correlation."""
    path = Path(__file__).resolve().parents[1] / "notebooks" / "results" / "defense-mnist-24.npz"
    results, _ = geomlib.load_comparison(path)
    seeded = {**results, **{f"{m}-s1": r._replace(deepfool_distance=r.deepfool_distance * 1.1)
                            for m, r in results.items()}}
    (corr,) = [f for f in plots.comparison_findings(seeded, "t", n_boot=50)
               if f.claim == "more curved boundary, farther boundary"]
    assert f"over {len(results)} configurations x up to 2 seeds" in corr.ours
    assert "permutation test over configurations p = " in corr.ours
    want = geomlib.hierarchical_rank_correlation(geomlib.seed_groups(seeded), "boundary_curvature",
                                                 "deepfool_distance", n_boot=1).p_value
    assert abs(float(corr.ours.rsplit("p = ", 1)[1].rstrip(")")) - want) <= 0.005


def test_find_result_files_classifies_the_committed_results():
    """notebooks/results: two robustness runs, one comparison and the full curvature survey; the
    temperature file (settings and a command too, but not a robustness run's) is none of them."""
    folder = Path(__file__).resolve().parents[1] / "notebooks"
    files = plots.find_result_files(folder)
    assert sorted(files.robustness) == ["results/robustness-mnist-1000.npz", "results/robustness-mnist-200.npz"]
    assert list(files.comparisons) == ["results/defense-mnist-24.npz"]
    assert list(files.surveys) == ["results/curvature-survey.npz"]
    assert len(files.surveys["results/curvature-survey.npz"]) == 9
    assert all(isinstance(r["settings"]["images"], int) for r in files.robustness.values())
    with pytest.raises(ValueError, match="not a robustness results file"):
        geomlib.load_robustness_run(folder / "results" / "defense-temperatures-24.npz")
