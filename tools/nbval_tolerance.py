"""nbval's strict output check, tolerant of one unit in the last printed digit.

The notebooks' key numbers are checked by nbval against the outputs saved in the notebook,
in the cells marked strict (:func:`is_strict`): by the cell tag ``nbval-check-output``, in
the cell's metadata and out of the reader's sight (nbval reads it natively), or, the older
way still accepted, by a ``# NBVAL_CHECK_OUTPUT`` comment line in the code.
``python -m tools.nbval_tolerance notebooks/NN-x.ipynb`` turns such comments into tags
(:func:`tag_strict_cells`; code and saved outputs otherwise untouched, so the notebook
need not be executed again).

XLA and the BLAS libraries pick their kernels by CPU (AVX2, AVX-512, AMX ...), so the
same seeded run on another machine can round a printed number the other way: the saved
``ratio 1.17`` re-runs as ``ratio 1.16`` on a Sapphire Rapids CPU. A changed *result*
moves a number by more than that.

This pytest plugin (``-p tools.nbval_tolerance``, set in ``pyproject.toml``) makes the
check exact everywhere except there: before nbval compares a cell's text outputs
(``stdout``, ``text/plain``), each test output whose text equals the reference output
except that some numbers differ by at most one unit in the reference's last printed
digit (``0.40`` vs ``0.41``, ``42%`` vs ``43%``, ``-0.0000`` vs ``+0.0000``) is replaced
by the reference text. Any other difference (words, the count of numbers, a larger
change, an image) is left for nbval to report as usual.

A cell whose numbers are known to move more between CPUs says so in its metadata, with
the reason, and is allowed that much (besides the one unit)::

    "metadata": {"nbval-tolerance": {"relative": 0.03, "absolute": 0.05,
                                     "reason": "150 thresholded LCA steps amplify rounding"}}

(``relative``: a fraction of the reference number; ``absolute``: in the printed units.) A
tolerance on a cell that is not strict fails that cell (its outputs would never be compared).
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from decimal import Decimal
from pathlib import Path

STRICT_TAG = "nbval-check-output"
STRICT_COMMENT = "NBVAL_CHECK_OUTPUT"
# nbval's own rule for a marker comment: a line that is '#' + optional spaces + the marker
_COMMENT_LINE = re.compile(rf"^[ \t]*#+[ \t]*{STRICT_COMMENT}[ \t]*$")

# A number standing on its own: not part of a name such as mlp-2, lam0.5, t25 or 2x.
NUMBER = re.compile(r"(?<![\w.])(?<!\w-)[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.])")


def _unit(token: str) -> Decimal:
    """One unit in the last printed digit of ``token`` ('0.41' -> 0.01, '7' -> 1, '1.5e-03' -> 1e-4)."""
    return Decimal(1).scaleb(Decimal(token).as_tuple().exponent)


def within_last_digit(ref: str, test: str, relative: float = 0.0, absolute: float = 0.0) -> bool:
    """True if ``test`` reads as ``ref`` up to numbers one unit apart in ``ref``'s last digit
    (or, if larger, ``absolute`` apart or ``relative`` times the reference number apart).

    >>> within_last_digit("ratio 1.17, rho +0.40", "ratio 1.16, rho +0.41")
    True
    >>> within_last_digit("-0.0000 and 42%", "+0.0000 and 43%")
    True
    >>> within_last_digit("ratio 1.17", "ratio 1.15")
    False
    >>> within_last_digit("ratio 1.17", "ratio 1.170")  # a different format is a change
    False
    >>> within_last_digit("mlp-2 0.5", "mlp-3 0.5")  # names are text, not numbers
    False
    >>> within_last_digit("lca 0.5", "mlp 0.5")
    False
    >>> within_last_digit("r 0.952, c2 +0.107", "r 0.959, c2 +0.110", relative=0.03)
    True
    >>> within_last_digit("rho +0.08", "rho +0.11", relative=0.03), within_last_digit("rho +0.08", "rho +0.11", absolute=0.05)
    (False, True)
    """
    if NUMBER.split(ref) != NUMBER.split(test):
        return False
    refs, tests = NUMBER.findall(ref), NUMBER.findall(test)
    for r, t in zip(refs, tests):
        if r == t:
            continue
        r_exp, t_exp = Decimal(r).as_tuple().exponent, Decimal(t).as_tuple().exponent
        allowed = max(_unit(r), Decimal(str(absolute)), Decimal(str(relative)) * abs(Decimal(r)))
        if r_exp != t_exp or abs(Decimal(r) - Decimal(t)) > allowed:
            return False
    return True


def _text_slots(output) -> list[tuple[dict, str]]:
    """(container, key) pairs holding an output's comparable text."""
    if output.get("output_type") == "stream":
        return [(output, "text")]
    data = output.get("data")
    if isinstance(data, dict) and "text/plain" in data:
        return [(data, "text/plain")]
    return []


def cell_tolerance(metadata) -> dict:
    """``relative`` and ``absolute`` tolerance from a cell's ``nbval-tolerance`` metadata
    (zero when absent); a malformed entry raises ValueError naming the problem."""
    spec = dict(metadata.get("nbval-tolerance") or {})
    unknown = set(spec) - {"relative", "absolute", "reason"}
    if unknown or (spec and not str(spec.get("reason", "")).strip()):
        raise ValueError(f"nbval-tolerance: expected keys relative, absolute and a non-empty reason, got {spec}")
    out = {k: float(spec.get(k, 0.0)) for k in ("relative", "absolute")}
    if any(not 0.0 <= v < 1.0 for v in out.values()):
        raise ValueError(f"nbval-tolerance: expected relative and absolute in [0, 1), got {out}")
    return out


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tags(cell) -> list:
    tags = cell.get("metadata", {}).get("tags", [])
    return list(tags) if isinstance(tags, list) else []


def is_strict(cell) -> bool:
    """True if nbval compares this code cell's outputs under ``--nbval-lax``: it carries the tag
    ``nbval-check-output`` or a ``# NBVAL_CHECK_OUTPUT`` comment line.

    >>> is_strict({"cell_type": "code", "source": "print(1)", "metadata": {"tags": ["nbval-check-output"]}})
    True
    >>> is_strict({"cell_type": "code", "source": "print(1)\\n# NBVAL_CHECK_OUTPUT", "metadata": {}})
    True
    >>> is_strict({"cell_type": "code", "source": "print('# NBVAL_CHECK_OUTPUT')", "metadata": {}})
    False
    >>> is_strict({"cell_type": "markdown", "source": "# NBVAL_CHECK_OUTPUT", "metadata": {}})
    False
    """
    if cell.get("cell_type") != "code":
        return False
    return STRICT_TAG in _tags(cell) or any(_COMMENT_LINE.match(line) for line in _source(cell).splitlines())


def tag_strict_cells(notebook) -> int:
    """Move every ``# NBVAL_CHECK_OUTPUT`` comment line of ``notebook``'s code cells (a dict in
    nbformat 4 layout, changed in place) into the cell tag ``nbval-check-output``; return the
    number of cells changed. Outputs, other metadata and the rest of the code are kept as they are.

    >>> nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": ["print(1)\\n", "# NBVAL_CHECK_OUTPUT"]}]}
    >>> tag_strict_cells(nb), nb["cells"][0]["source"], nb["cells"][0]["metadata"]["tags"]
    (1, 'print(1)', ['nbval-check-output'])
    >>> tag_strict_cells(nb)
    0
    """
    changed = 0
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        lines = _source(cell).splitlines(keepends=True)
        kept = [line for line in lines if not _COMMENT_LINE.match(line.rstrip("\n"))]
        if len(kept) == len(lines):
            continue
        cell["source"] = "".join(kept).rstrip("\n")
        tags = _tags(cell)
        if STRICT_TAG not in tags:
            cell.setdefault("metadata", {})["tags"] = [*tags, STRICT_TAG]
        changed += 1
    return changed


def _absorb_last_digit_noise(test: list, ref: list, relative: float = 0.0, absolute: float = 0.0) -> list:
    """A copy of ``test`` where text within tolerance of ``ref`` (:func:`within_last_digit`) reads as ``ref``."""
    test = copy.deepcopy(test)
    for t_out, r_out in zip(test, ref):
        if t_out.get("output_type") != r_out.get("output_type") or t_out.get("name") != r_out.get("name"):
            continue
        for (t_box, key), (r_box, r_key) in zip(_text_slots(t_out), _text_slots(r_out)):
            t_text, r_text = t_box[key], r_box[r_key]
            t_text = "".join(t_text) if isinstance(t_text, list) else t_text
            r_text = "".join(r_text) if isinstance(r_text, list) else r_text
            if t_text != r_text and within_last_digit(r_text, t_text, relative, absolute):
                t_box[key] = r_text
    return test


def pytest_configure(config):
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval not installed: nothing to adjust
        return
    if getattr(IPyNbCell.compare_outputs, "_last_digit_tolerant", False):
        return
    exact = IPyNbCell.compare_outputs

    def compare_outputs(self, test, ref, skip_compare=None):
        tolerance = cell_tolerance(getattr(self, "cell", {}).get("metadata", {}))
        return exact(self, _absorb_last_digit_noise(test, ref, **tolerance), ref, skip_compare)

    compare_outputs._last_digit_tolerant = True
    IPyNbCell.compare_outputs = compare_outputs


def pytest_collection_modifyitems(config, items):
    """Under ``--nbval-lax``, a cell that states an ``nbval-tolerance`` but is not strict
    (:func:`is_strict`) is a mistake: its outputs are never compared, e.g. after its marker
    was lost. Such a cell still runs (later cells need it), then fails, naming the fix."""
    if not getattr(config.option, "nbval_lax", False):
        return
    for item in items:
        cell = getattr(item, "cell", None)
        if not isinstance(cell, dict) or "nbval-tolerance" not in cell.get("metadata", {}) or is_strict(cell):
            continue

        def runtest(run=item.runtest, where=item.nodeid):
            run()
            raise ValueError(f"{where}: nbval-tolerance is set, but nbval does not compare this cell's outputs: "
                             f"expected the cell tag {STRICT_TAG!r} (or drop the tolerance)")

        item.runtest = runtest


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.nbval_tolerance NOTEBOOK...``: turn strict-check comments into cell tags."""
    parser = argparse.ArgumentParser(description="Move '# NBVAL_CHECK_OUTPUT' comments of code cells into the "
                                                 "cell tag 'nbval-check-output', in place.")
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    import nbformat

    for path in args.notebooks:
        notebook = nbformat.read(path, as_version=4)
        changed = tag_strict_cells(notebook)
        if changed:
            nbformat.validate(notebook)
            nbformat.write(notebook, path)
        print(f"{path}: {changed} cell(s) tagged {STRICT_TAG}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
