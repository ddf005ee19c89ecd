"""Do two comparison files agree where they overlap? :func:`shared_digits_check` compares what
two runs measured on the digits they share: the check that a full-size file (written once,
over many hours) still matches what today's code computes at the default size."""

from __future__ import annotations

from typing import Mapping, NamedTuple

import numpy as np

from geomlib._src.core.checks import check_float
from geomlib._src.defense.results import ClassifierMeasures, largest_magnitude

#: The per-digit numbers compared (deterministic given the digit, and the target for ``msd``).
COMPARED = ("deepfool_distance", "boundary_distance", "largest_curvature", "msd")


class SharedDigitsCheck(NamedTuple):
    """One model measured in two comparison files, on the digits both measured.

    Attributes:
      n_shared: digits both files measured for this model (held-out index in both, classified
        right in both).
      within: field of :data:`COMPARED` -> fraction of the shared digits where both values are
        finite and agree within ``rtol`` (NaN without such digits; ``msd`` only on digits with
        the same sign-attack target).
      n_compared: field -> the number of digits behind ``within``.
      agreement: ``"pgd@EPS"`` / ``"worst@EPS"`` (the radii in both files) -> fraction of shared
        digits with the same verdict (attacks with random starts may differ on a few digits).
    """

    n_shared: int
    within: dict[str, float]
    n_compared: dict[str, int]
    agreement: dict[str, float]


def _value(m: ClassifierMeasures, field: str) -> np.ndarray:
    if field == "largest_curvature":
        return largest_magnitude(m.boundary_curvature)
    return np.asarray(getattr(m, field), np.float64)


def _checked_file(pair, arg: str) -> tuple[Mapping[str, ClassifierMeasures], dict]:
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], Mapping)
            and isinstance(pair[1], Mapping)):
        raise ValueError(f"{arg}: expected (results, metadata) as load_comparison returns, got {type(pair).__name__}")
    results, meta = pair
    if not isinstance(meta.get("images"), list) or not isinstance(meta.get("targets"), list):
        raise ValueError(f"{arg}: its metadata has no list of images and targets (not a comparison's)")
    bad = [k for k, v in results.items() if not isinstance(v, ClassifierMeasures)]
    if bad:
        raise ValueError(f"{arg}: expected ClassifierMeasures for every model, not for {bad[:5]}")
    return results, dict(meta)


#: A comparison as :func:`geomlib.load_comparison` returns it: ``(results, metadata)``.
Comparison = tuple[Mapping[str, ClassifierMeasures], Mapping]


def shared_digits_check(a: Comparison, b: Comparison, *, rtol: float = 1e-3) -> dict[str, SharedDigitsCheck]:
    """Compare two comparison files (each ``(results, metadata)`` as :func:`geomlib.load_comparison`
    returns) on the held-out digits both measured, model by model (the models in both).

    A digit's DeepFool distance, boundary distance and curvature, and its sign attack's MSD (for
    the same target) depend on nothing but the digit and the model, so two runs of the same code
    agree on them up to float rounding (XLA rounds differently with the batch size): ``within``
    says on what fraction they agree within ``rtol``. The accuracies' verdicts come from attacks
    with random starts drawn per batch, so ``agreement`` gives the fraction of equal verdicts.

    Raises:
      ValueError: arguments that are not comparisons, of different data, or with no digit or
        model in common.
    """
    ra, ma = _checked_file(a, "a")
    rb, mb = _checked_file(b, "b")
    rtol = check_float(rtol, "rtol", 0.0, open_low=True)
    if ma.get("data") != mb.get("data"):
        raise ValueError(f"a, b: comparisons of different data ({ma.get('data')!r} and {mb.get('data')!r})")
    models = [m for m in ra if m in rb]
    pos_a = {int(i): k for k, i in enumerate(ma["images"])}
    pos_b = {int(i): k for k, i in enumerate(mb["images"])}
    shared = sorted(set(pos_a) & set(pos_b))
    if not models or not shared:
        raise ValueError(f"a, b: nothing to compare ({len(models)} models and {len(shared)} digits in common)")
    rows_a = np.array([pos_a[i] for i in shared])
    rows_b = np.array([pos_b[i] for i in shared])
    same_target = np.asarray(ma["targets"])[rows_a] == np.asarray(mb["targets"])[rows_b]
    eps_a = np.asarray(ra[models[0]].eps, np.float64)
    out = {}
    for name in models:
        x, y = ra[name], rb[name]
        right = np.ones(len(shared), bool)
        for m, rows in ((x, rows_a), (y, rows_b)):
            if m.clean_correct is not None:
                right &= np.asarray(m.clean_correct, bool)[rows]
        within, counted = {}, {}
        for field in COMPARED:
            u, v = _value(x, field)[rows_a], _value(y, field)[rows_b]
            ok = right & np.isfinite(u) & np.isfinite(v) & (same_target if field == "msd" else True)
            close = np.abs(u - v) <= rtol * np.maximum(np.abs(u), np.abs(v))
            counted[field] = int(ok.sum())
            within[field] = float(np.mean(close[ok])) if ok.any() else float("nan")
        agreement = {}
        for kind in ("pgd", "worst"):
            ca, cb = getattr(x, f"{kind}_correct"), getattr(y, f"{kind}_correct")
            if ca is None or cb is None:
                continue
            for i, e in enumerate(eps_a):
                j = np.flatnonzero(np.isclose(np.asarray(y.eps, np.float64), e))
                if j.size and right.any():
                    agreement[f"{kind}@{e:g}"] = float(np.mean(ca[i][rows_a][right] == cb[j[0]][rows_b][right]))
        out[name] = SharedDigitsCheck(int(right.sum()), within, counted, agreement)
    return out
