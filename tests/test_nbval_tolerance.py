"""tools/nbval_tolerance.py: strict notebook checks pass CPU rounding noise, fail real changes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from tools.nbval_tolerance import _absorb_last_digit_noise, within_last_digit

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("ref, test", [
    ("rho +0.40  [+0.13, +0.40]", "rho +0.41  [+0.12, +0.40]"),
    ("mean MSD ratio 1.17", "mean MSD ratio 1.16"),
    ("c2 -0.0000", "c2 +0.0000"),
    ("97% of digits, 12 models", "96% of digits, 12 models"),
    ("step 1.5e-03", "step 1.6e-03"),
])
def test_last_digit_noise_is_absorbed(ref, test):
    assert within_last_digit(ref, test)


@pytest.mark.parametrize("ref, test", [
    ("rho +0.40", "rho +0.42"),                  # two units
    ("ratio 1.17", "ratio 1.2"),                # another format
    ("12 models", "13 models, 1 more"),          # another count of numbers
    ("lca-mlp-2 0.50", "lca-mlp-3 0.50"),        # a name is text
    ("lam0.1 0.50", "lam0.2 0.50"),
    ("LCA larger on 92%", "MLP larger on 92%"),  # words
    ("[16, 16]", "[16, 16, 16]"),
])
def test_real_changes_are_not(ref, test):
    assert not within_last_digit(ref, test)


def test_only_text_outputs_of_the_same_stream_are_adjusted():
    ref = [new_output("stream", name="stdout", text="ratio 1.17\n"),
           new_output("execute_result", data={"text/plain": "0.40", "image/png": "AAA"}, execution_count=1)]
    test = [new_output("stream", name="stdout", text="ratio 1.16\n"),
            new_output("execute_result", data={"text/plain": "0.41", "image/png": "BBB"}, execution_count=2)]
    out = _absorb_last_digit_noise(test, ref)
    assert out[0]["text"] == "ratio 1.17\n" and out[1]["data"]["text/plain"] == "0.40"
    assert out[1]["data"]["image/png"] == "BBB"  # images still differ: nbval reports them
    assert test[0]["text"] == "ratio 1.16\n"     # the input is not modified
    stderr = [new_output("stream", name="stderr", text="ratio 1.16\n")]
    assert _absorb_last_digit_noise(stderr, ref[:1])[0]["text"] == "ratio 1.16\n"


def test_nbval_passes_rounding_noise_and_fails_real_changes(tmp_path):
    """One nbval run (one kernel) on four strict cells that all print ``ratio 1.16``."""
    tolerant = {"nbval-tolerance": {"relative": 0.03, "reason": "test"}}
    saved = [("ratio 1.17\n", {}, True),          # one unit in the last digit: passes
             ("ratio 1.18\n", {}, False),         # two units: fails
             ("ratio 1.19\n", tolerant, True),    # within the cell's stated 3%
             ("ratio 1.22\n", tolerant, False)]   # beyond it
    cells = [new_code_cell('print(f"ratio {1.1649:.2f}")\n# NBVAL_CHECK_OUTPUT', execution_count=i + 1,
                           outputs=[new_output("stream", name="stdout", text=text)], metadata=meta)
             for i, (text, meta, _) in enumerate(saved)]
    path = tmp_path / "strict.ipynb"
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                      "language": "python"}}), path)
    run = subprocess.run([sys.executable, "-m", "pytest", "-rA", "--nbval-lax", "--nbval-current-env",
                          "-p", "no:cacheprovider", "-p", "tools.nbval_tolerance", "--rootdir", str(tmp_path),
                          "-c", "/dev/null", str(path)],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    for i, (_, _, passes) in enumerate(saved):
        word = "PASSED" if passes else "FAILED"
        # pytest appends " - <message>" to a FAILED line when the terminal is wide enough
        assert re.search(rf"^{word} \S*strict\.ipynb::Cell {i}( - .*)?$", run.stdout, re.M), run.stdout[-3000:]


def test_cell_tolerance_from_metadata():
    from tools.nbval_tolerance import cell_tolerance
    assert cell_tolerance({}) == {"relative": 0.0, "absolute": 0.0}
    assert cell_tolerance({"nbval-tolerance": {"relative": 0.03, "reason": "chaotic"}}) == {"relative": 0.03,
                                                                                            "absolute": 0.0}
    for bad in ({"relative": 0.03}, {"relative": 0.03, "reason": " "}, {"relativ": 0.03, "reason": "x"},
                {"absolute": 2, "reason": "x"}, {"relative": -0.1, "reason": "x"}):
        with pytest.raises(ValueError, match="nbval-tolerance"):
            cell_tolerance({"nbval-tolerance": bad})
