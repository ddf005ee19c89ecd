"""Smoke-size runs of the notebooks: the same code on fewer digits, planes and steps.

The browser test (``tests/browser``) opens every notebook in JupyterLab and runs all of
its cells only to check that they run and that the sliders redraw the figures; the
numbers the notebooks print are checked by nbval at full size. It starts the kernel with
``GEOMLIB_SMOKE=1``, and a notebook picks its sizes with :func:`size`::

    from geomlib.smoke import size
    N_DIGITS = size(48, smoke=4)      # 48 normally, 4 in a smoke run

Nothing else changes in a smoke run: same models, same functions, same widgets. Unset
(the default), every size is the full one.
"""

from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T")

#: Environment variable that switches notebooks to their smoke sizes ("1": on; unset, "" or "0": off).
ENV_VAR = "GEOMLIB_SMOKE"


def active() -> bool:
    """True when ``$GEOMLIB_SMOKE`` asks for smoke sizes (read at each call: no hidden state)."""
    return os.environ.get(ENV_VAR, "").strip() not in ("", "0")


def size(full: T, smoke: T) -> T:
    """``smoke`` in a smoke run (``GEOMLIB_SMOKE=1``), else ``full``.

    >>> size(48, smoke=4)
    48
    """
    return smoke if active() else full
