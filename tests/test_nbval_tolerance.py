"""tools/nbval_tolerance.py: strict notebook checks pass CPU rounding noise, fail real changes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from tools.nbval_tolerance import (STRICT_TAG, _absorb_last_digit_noise, is_strict, main, tag_strict_cells,
                                   within_last_digit)

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


def _run_nbval(path):
    return subprocess.run([sys.executable, "-m", "pytest", "-rA", "--nbval-lax", "--nbval-current-env",
                           "-p", "no:cacheprovider", "-p", "tools.nbval_tolerance", "--rootdir", str(path.parent),
                           "-c", "/dev/null", str(path)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def test_nbval_passes_rounding_noise_and_fails_real_changes(tmp_path):
    """One nbval run (one kernel) on cells that all print ``ratio 1.16``: four marked strict by
    the old comment, four by the cell tag only, one unmarked (not compared), one with a
    tolerance but no marker (fails), and a strict one after it (the kernel went on)."""
    tolerant = {"nbval-tolerance": {"relative": 0.03, "reason": "test"}}
    saved = [("ratio 1.17\n", {}, True),          # one unit in the last digit: passes
             ("ratio 1.18\n", {}, False),         # two units: fails
             ("ratio 1.19\n", tolerant, True),    # within the cell's stated 3%
             ("ratio 1.22\n", tolerant, False)]   # beyond it
    code = 'print(f"ratio {1.1649:.2f}")'
    cells = [new_code_cell(code + "\n# NBVAL_CHECK_OUTPUT", metadata=dict(meta), outputs=[new_output(
             "stream", name="stdout", text=text)]) for text, meta, _ in saved]
    cells += [new_code_cell(code, metadata={**meta, "tags": [STRICT_TAG]}, outputs=[new_output(
              "stream", name="stdout", text=text)]) for text, meta, _ in saved]
    cells.append(new_code_cell(code, outputs=[new_output("stream", name="stdout", text="ratio 9.99\n")]))
    cells.append(new_code_cell(code, metadata=dict(tolerant), outputs=[new_output(   # a tolerance, no marker
        "stream", name="stdout", text="ratio 1.16\n")]))
    cells.append(new_code_cell(code + "\n# NBVAL_CHECK_OUTPUT", outputs=[new_output("stream", name="stdout",
                                                                                  text="ratio 1.16\n")]))
    expected = [passes for _, _, passes in saved] * 2 + [True, False, True]   # unmarked: not compared
    for i, cell in enumerate(cells):
        cell.execution_count = i + 1
    assert [is_strict(c) for c in cells] == [True] * 8 + [False, False, True]
    path = tmp_path / "strict.ipynb"
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                      "language": "python"}}), path)
    run = _run_nbval(path)
    for i, passes in enumerate(expected):
        word = "PASSED" if passes else "FAILED"
        # pytest appends " - <message>" to a FAILED line when the terminal is wide enough
        assert re.search(rf"^{word} \S*strict\.ipynb::Cell {i}( - .*)?$", run.stdout, re.M), run.stdout[-3000:]
    assert "Cell 9: nbval-tolerance is set, but nbval does not compare" in run.stdout, run.stdout[-3000:]


def test_is_strict_reads_tag_and_comment_as_nbval_does():
    tagged = new_code_cell("x = 1", metadata={"tags": ["other", STRICT_TAG]})
    assert is_strict(tagged)
    for comment in ("# NBVAL_CHECK_OUTPUT", "#NBVAL_CHECK_OUTPUT", "    ## NBVAL_CHECK_OUTPUT  "):
        assert is_strict(new_code_cell(f"x = 1\n{comment}\ny = 2"))
    for source in ("x = 1  # NBVAL_CHECK_OUTPUT", "s = '# NBVAL_CHECK_OUTPUT'", "# NBVAL_CHECK_OUTPUT please"):
        assert not is_strict(new_code_cell(source))
    assert not is_strict({"cell_type": "code", "source": "x", "metadata": {"tags": STRICT_TAG}})  # not a list
    assert not is_strict(nbformat.v4.new_markdown_cell("# NBVAL_CHECK_OUTPUT"))


def test_tag_strict_cells_moves_the_comment_into_the_tag(tmp_path):
    out = [new_output("stream", name="stdout", text="ratio 1.17\n")]
    cells = [new_code_cell("print(1)\n# NBVAL_CHECK_OUTPUT", outputs=out, metadata={"nbval-tolerance": {
                 "relative": 0.03, "reason": "test"}}),
             new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(2)", metadata={"tags": [STRICT_TAG]}),
             new_code_cell("print(3)  # stays", metadata={"tags": ["keep"]}),
             nbformat.v4.new_markdown_cell("# NBVAL_CHECK_OUTPUT in prose stays")]
    path = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    assert main([str(path)]) == 0
    nb = nbformat.read(path, as_version=4)
    assert [c.source for c in nb.cells] == ["print(1)", "print(2)", "print(3)  # stays",
                                            "# NBVAL_CHECK_OUTPUT in prose stays"]
    assert [c.metadata.get("tags") for c in nb.cells[:3]] == [[STRICT_TAG], [STRICT_TAG], ["keep"]]
    assert nb.cells[0].outputs == out and nb.cells[0].metadata["nbval-tolerance"]["relative"] == 0.03
    assert [is_strict(c) for c in nb.cells] == [True, True, False, False]
    assert tag_strict_cells(nb) == 0   # idempotent


def test_cell_tolerance_from_metadata():
    from tools.nbval_tolerance import cell_tolerance
    assert cell_tolerance({}) == {"relative": 0.0, "absolute": 0.0}
    assert cell_tolerance({"nbval-tolerance": {"relative": 0.03, "reason": "chaotic"}}) == {"relative": 0.03,
                                                                                            "absolute": 0.0}
    for bad in ({"relative": 0.03}, {"relative": 0.03, "reason": " "}, {"relativ": 0.03, "reason": "x"},
                {"absolute": 2, "reason": "x"}, {"relative": -0.1, "reason": "x"}):
        with pytest.raises(ValueError, match="nbval-tolerance"):
            cell_tolerance({"nbval-tolerance": bad})
