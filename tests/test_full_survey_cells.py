"""Chapter 4's survey cells run on a full-survey file (``FULL_SURVEY``): the code that draws the
shipped full survey (``python -m geomlib.cli.survey``) works before that file exists. The notebook's
own run (nbval) computes the reduced survey instead. The file here is synthetic: a small real
survey's planes with made-up bends, exo-origin in comparison planes."""

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


def test_the_survey_cells_draw_a_full_survey_file(folder, notebook_cell, monkeypatch, capsys):
    monkeypatch.chdir(folder)
    ns = {}
    exec(notebook_cell(CHAPTER, "%config").split("\n", 1)[1], ns)   # the imports, without the IPython magic
    exec(notebook_cell(CHAPTER, "SEED = 0"), ns)
    assert ns["FULL_SURVEY"] == Path("results/curvature-survey.npz")
    capsys.readouterr()
    ns["run_survey"] = lambda *a, **k: pytest.fail("a pair of the file was computed again")
    exec(notebook_cell(CHAPTER, "surveys = "), ns)
    exec(notebook_cell(CHAPTER, "fig, axes = plt.subplots(1, 3"), ns)
    exec(notebook_cell(CHAPTER, "for name in (MODEL, MODEL_4X, MODEL_10X):\n    s = surveys"), ns)
    exec(notebook_cell(CHAPTER, "significance = "), ns)
    out = capsys.readouterr().out
    assert "patches-2x: 48 planes per circuit; LCA 120 s, 2.50 s per plane" in out
    assert "patches-10x: 48 planes per circuit; LCA 360 s" in out
    assert "patches-4x LCA: exo-origin" in out and "patches-10x linear: max |c2| < 1e-5" in out
    titles = [ax.get_title() for ax in plt.gcf().axes]
    assert any("patches-10x (6 neurons)" in t for t in titles), titles
    report = ns["significance"]["lca"].report()
    assert report in out and "6" in report
    plt.close("all")
