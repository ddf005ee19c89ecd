"""Chapter 8's full-size cell, run on a synthetic seeded full-size file: the code that will read the
shipped full-size comparison (several seeds per configuration) works before that file exists.
The notebook's own run (nbval) only takes the branch without the file."""

from pathlib import Path

import matplotlib
import numpy as np
import pytest

import geomlib
from geomlib import plots

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CHAPTER = "08-curvature-and-defense.ipynb"
RESULTS = Path(__file__).resolve().parent.parent / "notebooks" / "results" / "defense-mnist-24.npz"
CONFIGS = ("linear", "mlp-2", "mlp-2-pgd", "lca-mlp-2", "lca-mlp-2-t25")


@pytest.fixture(scope="module")
def namespace(tmp_path_factory, notebook_cell):
    """The names the cell uses: the chapter's settings (its settings cell, run) and its default-size file."""
    ns = {"Path": Path, "geomlib": geomlib, "size": lambda n, smoke=None: n}
    exec(notebook_cell(CHAPTER, "SEED = 0"), ns)
    results, meta = geomlib.load_comparison(RESULTS)
    rng = np.random.default_rng(0)
    full = {}
    for name in CONFIGS:               # seed 0 is the file's model; seeds 1, 2 a perturbed copy of it
        m = results[name]
        full[name] = m
        for k in (1, 2):
            scale = 1 + 0.05 * rng.standard_normal()
            full[f"{name}-s{k}"] = m._replace(deepfool_distance=m.deepfool_distance * scale, msd=m.msd * scale)
    path = tmp_path_factory.mktemp("full") / "defense-mnist-1000.npz"
    geomlib.save_comparison(path, full, {**meta, "seconds": 7200.0})
    ns.update(FULL_RESULTS=path, load_comparison=geomlib.load_comparison, plots=plots, plt=plt,
              results=results, meta=meta, N_BOOT=50)
    return ns


def test_the_full_size_cell_reads_a_seeded_file(namespace, notebook_cell, capsys):
    exec(notebook_cell(CHAPTER, "if FULL_RESULTS.is_file():"), namespace)
    out = capsys.readouterr().out
    assert "24 held-out digits (common) x 5 configurations x up to 3 seeds, measured in 2.0 h" in out
    for name in CONFIGS:
        assert f"\n{name:<17}" in out
    assert out.count("configurations); over models rho") == len(namespace["CURVATURES"]) * len(namespace["ROBUSTNESS"])
    # the shared-digits check: seed 0 is the default file's model itself
    assert f"{'linear':<17} 24 shared digits; within 0.1%: deepfool_distance 100%" in out
    fig = plt.gcf()
    titles = [ax.get_title() for ax in fig.axes]
    assert all("(5 configurations)" in t for t in titles[:3]), titles
    plt.close("all")
