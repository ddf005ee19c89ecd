"""Host-side checks of scalar arguments, shared by every layer.

Each raises a ValueError that names the argument, says what was expected and shows
what came, e.g. ``steps: expected an integer >= 1, got 0``. A bool is never a number
here (``True`` is not a step count), and a float is not an integer even when whole. NumPy
and JAX scalars (0-d arrays) count as the Python numbers they hold.
"""

from __future__ import annotations

import math

import numpy as np


def _is_integer(value) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (int, np.integer)) or (np.ndim(value) == 0 and
                                                     np.issubdtype(getattr(value, "dtype", object), np.integer))


def _as_float(value) -> float:
    """``float(value)`` for a real scalar, NaN for anything else (bools and strings included)."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or np.ndim(value) != 0:
        return math.nan
    if getattr(value, "dtype", None) is not None and not np.issubdtype(value.dtype, np.number):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _bound(value, label: str | None) -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text if label is None else f"{label} = {text}"


def check_int(value, name: str, low: int = 1, high: int | None = None, *, low_label: str | None = None,
              high_label: str | None = None) -> int:
    """``value`` as an ``int`` in ``[low, high]`` (``high`` None: no upper bound).

    A label says where a bound comes from: ``high_label="D"`` gives the message
    ``k: expected an integer in [1, D = 12], got 13``.
    """
    ok = _is_integer(value) and value >= low and (high is None or value <= high)
    if not ok:
        low_text = _bound(low, low_label)
        where = f">= {low_text}" if high is None else f"in [{low_text}, {_bound(high, high_label)}]"
        raise ValueError(f"{name}: expected an integer {where}, got {value!r}")
    return int(value)


def check_float(value, name: str, low: float | None = None, high: float | None = None, *,
                open_low: bool = False) -> float:
    """``value`` as a finite ``float`` in ``[low, high]``, or ``(low, high]`` with ``open_low``
    (a None bound: none on that side)."""
    v = _as_float(value)
    ok = (math.isfinite(v) and (low is None or (v > low if open_low else v >= low))
          and (high is None or v <= high))
    if not ok:
        if low is None and high is None:
            where = ""
        elif high is None:
            where = f" {'>' if open_low else '>='} {low:g}"
        elif low is None:
            where = f" <= {high:g}"
        else:
            where = f" in {'(' if open_low else '['}{low:g}, {high:g}]"
        raise ValueError(f"{name}: expected a finite number{where}, got {value!r}")
    return v
