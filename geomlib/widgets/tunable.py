"""What the explorer's parameter sliders build (:class:`Tunable` neurons, axes and
origins), and the orthonormal axes of its plane."""

from __future__ import annotations

import inspect
from typing import Callable, Mapping

import numpy as np
from jax.typing import ArrayLike

__all__ = ["Tunable", "directions", "orthonormal"]


class Tunable:
    """A neuron (or a plane axis) that depends on the explorer's parameter sliders.

    ``build(**values)`` returns the response function ``f: R^D -> R`` (or the direction
    ``(D,)``) for the current values of the parameters it names (all of them if it takes
    ``**kwargs``). Results are cached per setting of those parameters, so moving back to
    a value reuses its compiled code, and a slider a neuron does not use leaves it alone.

    >>> import functools
    >>> import jax.numpy as jnp
    >>> t = Tunable(lambda lam: functools.partial(lambda x, lam: lam * x.sum(), lam=lam))
    >>> float(t.build(lam=2.0)(jnp.ones(3))), t.uses({"lam": 2.0, "steps": 5})
    (6.0, {'lam': 2.0})
    """

    def __init__(self, build: Callable[..., object]):
        if not callable(build):
            raise ValueError(f"build: expected a callable returning a response function, got {build!r:.80}")
        self.build = build
        try:
            sig = inspect.signature(build)
        except (TypeError, ValueError):  # some builtins: pass everything
            sig = None
        if sig is None or any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            self.names = None
        else:
            self.names = tuple(n for n, p in sig.parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))

    def uses(self, values: Mapping[str, object]) -> dict:
        """The parameter values ``build`` receives: those it names, in ``values``."""
        return dict(values) if self.names is None else {k: v for k, v in values.items() if k in self.names}

    def __repr__(self) -> str:
        return f"Tunable({getattr(self.build, '__name__', self.build)!r})"


def directions(name: str, x) -> dict[str, object]:
    """A direction, or a dict of named directions, as a dict name -> float64 array or Tunable."""
    def one(v):
        return v if isinstance(v, Tunable) else np.asarray(v, dtype=np.float64)

    if isinstance(x, Mapping):
        if not x:
            raise ValueError(f"{name}: expected a direction (D,) or a non-empty dict name -> direction, got {{}}")
        return {str(k): one(v) for k, v in x.items()}
    return {name: one(x)}


def orthonormal(u: ArrayLike, v1: ArrayLike, v2: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gram-Schmidt on (u, v1, v2) in float64; ValueError if they are not independent."""
    rows = []
    for name, x in (("u", u), ("v1", v1), ("v2", v2)):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1 or (rows and x.shape != rows[0].shape):
            want = f"({rows[0].size},)" if rows else "(D,)"
            raise ValueError(f"{name}: expected shape {want}, got {x.shape}")
        if not np.all(np.isfinite(x)) or np.linalg.norm(x) == 0:
            raise ValueError(f"{name}: expected a finite nonzero direction")
        w = x.copy()
        for _ in range(2):  # two passes: orthogonal to rounding error
            for r in rows:
                w -= (w @ r) * r
        if np.linalg.norm(w) < 1e-6 * np.linalg.norm(x):
            raise ValueError(f"{name}: expected a direction independent of the previous ones, got a dependent one")
        rows.append(w / np.linalg.norm(w))
    return rows[0], rows[1], rows[2]
