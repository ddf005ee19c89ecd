"""Chapter 4's survey cells run on any full-survey file (``FULL_SURVEY``), not only the shipped one
(``python -m geomlib.cli.survey``), which nbval's run of the notebook draws: the figures, summaries
and tests describe the file, and the check cell fails when the file no longer matches the reduced
survey computed beside it. The file here is synthetic: a small real survey's planes with made-up
bends, exo-origin in comparison planes; the "reduced survey" is a slice of it (or a changed one)."""

import dataclasses
from pathlib import Path

import matplotlib
import numpy as np
import pytest

import geomlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CHAPTER = "04-curvature-survey.ipynb"
DICTIONARIES = ("patches-2x", "patches-4x", "patches-10x")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A folder with results/curvature-survey.npz: every dictionary x circuit, 6 neurons x (4 + 4) planes."""
    base = geomlib.run_survey(geomlib.load_params("patches-2x"), "linear", neurons=6, n_comparison=4, n_random=4,
                              key=0, progress=False)
    rng = np.random.default_rng(0)
    comparison = base.kind == "comparison"
    results = {}
    for d, name in enumerate(DICTIONARIES):
        for circuit in ("lca", "linear", "relu"):
            if circuit == "lca":     # comparison planes bend more, by more in larger dictionaries
                c2 = np.where(comparison, 0.10 + 0.02 * d, 0.06) + 0.01 * rng.standard_normal(base.c2.shape)
            else:
                c2 = 1e-8 * rng.standard_normal(base.c2.shape)
            results[f"{name}/{circuit}"] = dataclasses.replace(base, c2=c2, model=circuit,
                                                               config={**base.config, "seconds": 120.0 * (d + 1)})
    root = tmp_path_factory.mktemp("chapter4")
    (root / "results").mkdir()
    geomlib.save_survey(results, root / "results" / "curvature-survey.npz")
    return root


def _reduced(result, neurons, n_comparison, n_random):
    """The planes a reduced survey with the same seed measures: a prefix of the neurons, of the
    comparison planes and of the random planes."""
    cols = np.r_[np.flatnonzero(result.kind == "comparison")[:n_comparison],
                 np.flatnonzero(result.kind == "random")[:n_random]]
    cut = {f: getattr(result, f)[:neurons][:, cols] for f in ("c2", "c0", "c1", "n_valid", "angle", "partner")}
    return dataclasses.replace(result, **cut, kind=result.kind[cols], neurons=result.neurons[:neurons],
                               config={**result.config, "seconds": 1.5})


def _run_cells(notebook_cell, ns, shift=0.0):
    exec(notebook_cell(CHAPTER, "%config").split("\n", 1)[1], ns)   # the imports, without the IPython magic
    exec(notebook_cell(CHAPTER, "SEED = 0"), ns)
    assert ns["FULL_SURVEY"] == Path("results/curvature-survey.npz")
    file = geomlib.load_survey(ns["FULL_SURVEY"])
    size = (min(ns["SURVEY"]["neurons"], 6), min(ns["SURVEY"]["n_comparison"], 4), min(ns["SURVEY"]["n_random"], 4))

    def run_survey(params, circuit, *, key, **kw):          # the reduced survey, as the file's code computed it
        assert key == ns["SEED"]
        name = next(n for n in DICTIONARIES if ns["params"][n] is params)
        out = _reduced(file[f"{name}/{circuit}"], *size)
        return dataclasses.replace(out, c2=out.c2 + shift)
    ns["run_survey"] = run_survey
    exec(notebook_cell(CHAPTER, "reduced = {}"), ns)
    exec(notebook_cell(CHAPTER, "for key in (key for key in reduced if key in full)"), ns)


def test_the_survey_cells_draw_a_full_survey_file(folder, notebook_cell, monkeypatch, capsys):
    monkeypatch.chdir(folder)
    ns = {}
    _run_cells(notebook_cell, ns)
    assert ns["surveys"].keys() == ns["reduced"].keys() and all(ns["surveys"][k] is ns["full"][k] for k in ns["full"])
    exec(notebook_cell(CHAPTER, "fig, axes = plt.subplots(1, 3"), ns)
    exec(notebook_cell(CHAPTER, "for name in (MODEL, MODEL_4X, MODEL_10X):\n    s = surveys"), ns)
    exec(notebook_cell(CHAPTER, "significance = "), ns)
    out = capsys.readouterr().out
    assert "patches-2x, full: 48 planes per circuit; LCA 0.0 h as run, 2.50 s per plane" in out
    assert "patches-10x, full: 48 planes per circuit; LCA 0.1 h as run, 7.50 s per plane" in out
    assert "patches-2x, reduced: " in out and "LCA 2 s" in out
    assert out.count("100.0% within 0.001") == 9 and "patches-10x   relu: 6 neurons" in out
    assert "patches-4x LCA: exo-origin" in out and "patches-10x linear: max |c2| < 1e-5" in out
    titles = [ax.get_title() for ax in plt.gcf().axes]
    assert any("patches-10x (6 neurons)" in t for t in titles), titles
    report = ns["significance"]["lca"].report()
    assert report in out and "6" in report
    plt.close("all")


def test_the_check_cell_fails_when_the_file_no_longer_matches_the_code(folder, notebook_cell, monkeypatch):
    monkeypatch.chdir(folder)
    with pytest.raises(AssertionError, match="no longer matches"):
        _run_cells(notebook_cell, {}, shift=0.01)
