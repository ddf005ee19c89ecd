"""Named defaults shared by several layers: one place to read or change them.

- ``LCA_STEPS``, ``LCA_ETA``: Euler steps and rate ``eta = dt / tau`` of the unrolled
  Locally Competitive Algorithm (Rozell et al. 2008), as in Paiton et al. (2020).
- ``PGD_STEP_FACTOR``, :func:`pgd_step_size`: the step of projected gradient descent when
  none is given.
"""

from __future__ import annotations

LCA_STEPS: int = 75
LCA_ETA: float = 1 / 30

PGD_STEP_FACTOR: float = 2.5


def pgd_step_size(eps, steps: int):
    """``2.5 eps / steps``: the PGD step of Madry et al. (2018), which can cross the
    eps-ball 2.5 times in ``steps`` steps (``steps`` 0 counts as 1). ``eps`` may be traced."""
    return PGD_STEP_FACTOR * eps / max(steps, 1)
