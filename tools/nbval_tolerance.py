"""nbval's strict output check, tolerant of one unit in the last printed digit.

The notebooks' key numbers are checked by nbval (cells marked ``# NBVAL_CHECK_OUTPUT``)
against the outputs saved in the notebook. XLA and the BLAS libraries pick their kernels
by CPU (AVX2, AVX-512, AMX ...), so the same seeded run on another machine can round a
printed number the other way: the saved ``ratio 1.17`` re-runs as ``ratio 1.16`` on a
Sapphire Rapids CPU. A changed *result* moves a number by more than that.

This pytest plugin (``-p tools.nbval_tolerance``, set in ``pyproject.toml``) makes the
check exact everywhere except there: before nbval compares a cell's text outputs
(``stdout``, ``text/plain``), each test output whose text equals the reference output
except that some numbers differ by at most one unit in the reference's last printed
digit (``0.40`` vs ``0.41``, ``42%`` vs ``43%``, ``-0.0000`` vs ``+0.0000``) is replaced
by the reference text. Any other difference (words, the count of numbers, a larger
change, an image) is left for nbval to report as usual.
"""

from __future__ import annotations

import copy
import re
from decimal import Decimal

# A number standing on its own: not part of a name such as mlp-2, lam0.5, t25 or 2x.
NUMBER = re.compile(r"(?<![\w.])(?<!\w-)[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.])")


def _unit(token: str) -> Decimal:
    """One unit in the last printed digit of ``token`` ('0.41' -> 0.01, '7' -> 1, '1.5e-03' -> 1e-4)."""
    return Decimal(1).scaleb(Decimal(token).as_tuple().exponent)


def within_last_digit(ref: str, test: str) -> bool:
    """True if ``test`` reads as ``ref`` up to numbers one unit apart in ``ref``'s last digit.

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
    """
    if NUMBER.split(ref) != NUMBER.split(test):
        return False
    refs, tests = NUMBER.findall(ref), NUMBER.findall(test)
    for r, t in zip(refs, tests):
        if r == t:
            continue
        r_exp, t_exp = Decimal(r).as_tuple().exponent, Decimal(t).as_tuple().exponent
        if r_exp != t_exp or abs(Decimal(r) - Decimal(t)) > _unit(r):
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


def _absorb_last_digit_noise(test: list, ref: list) -> list:
    """A copy of ``test`` where text within one last-digit unit of ``ref`` reads as ``ref``."""
    test = copy.deepcopy(test)
    for t_out, r_out in zip(test, ref):
        if t_out.get("output_type") != r_out.get("output_type") or t_out.get("name") != r_out.get("name"):
            continue
        for (t_box, key), (r_box, r_key) in zip(_text_slots(t_out), _text_slots(r_out)):
            t_text, r_text = t_box[key], r_box[r_key]
            t_text = "".join(t_text) if isinstance(t_text, list) else t_text
            r_text = "".join(r_text) if isinstance(r_text, list) else r_text
            if t_text != r_text and within_last_digit(r_text, t_text):
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
        return exact(self, _absorb_last_digit_noise(test, ref), ref, skip_compare)

    compare_outputs._last_digit_tolerant = True
    IPyNbCell.compare_outputs = compare_outputs
