"""Argument checks shared by every layer: scalars, arrays of images and labels, PRNG keys,
norms and callables.

Each raises a ValueError that names the argument, says what was expected and shows
what came, e.g. ``steps: expected an integer >= 1, got 0``. A bool is never a number
here (``True`` is not a step count), and a float is not an integer even when whole. NumPy
and JAX scalars (0-d arrays) count as the Python numbers they hold.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from geomlib._src.core.dtypes import float_dtype, is_concrete


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


def check_scalar(value, name: str, dtype, *, low: float = 0.0, strict: bool = False,
                 high: float | None = None) -> jax.Array:
    """``value`` as a 0-d array of ``dtype`` in ``[low, high)`` (``(low, high)`` if ``strict``),
    checked where it is concrete (a traced value passes unchecked). None, a bool, a string, a
    complex or non-numeric value is a TypeError."""
    kind = np.dtype(value.dtype).kind if isinstance(getattr(value, "dtype", None), np.dtype) else None
    if (value is None or isinstance(value, (bool, np.bool_, str, bytes, complex))
            or (kind is not None and kind not in "iuf")):
        raise TypeError(f"{name}: expected a real number, got {_got(value)}")
    try:
        arr = jnp.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name}: expected a real number, got {_got(value)} ({err})") from None
    if arr.shape != ():
        raise ValueError(f"{name}: expected a scalar, got shape {arr.shape}")
    if is_concrete(arr):
        v = float(arr)
        bad = not np.isfinite(v) or (v <= low if strict else v < low) or (high is not None and v >= high)
        if bad:
            interval = f"{'(' if strict else '['}{low:g}, {'inf)' if high is None else f'{high:g})'}"
            raise ValueError(f"{name}: expected a finite value in {interval}, got {value!r}")
    return arr


def check_callable(fn, name: str, contract: str) -> Partial:
    """``fn`` wrapped as a ``jax.tree_util.Partial`` so that ``jit`` takes it as a pytree: parameters
    bound with ``Partial`` stay traced arguments, a plain function is keyed by identity.
    ``contract`` says what it maps, e.g. ``"R^D -> R"``."""
    if not callable(fn):
        raise ValueError(f"{name}: expected a callable {contract}, got {type(fn).__name__}")
    return fn if isinstance(fn, Partial) else Partial(fn)


def check_norm(norm) -> str:
    """``"inf"`` or ``"2"`` from ``norm`` (also ``np.inf`` or ``2``)."""
    if isinstance(norm, str) and norm in ("inf", "2"):
        return norm
    if isinstance(norm, (int, float, np.integer, np.floating)) and not isinstance(norm, bool):
        if norm == 2:
            return "2"
        if norm == np.inf:
            return "inf"
    raise ValueError(f"norm: expected 'inf' or '2' (or np.inf, 2), got {norm!r}")


def check_images(x, clip: bool, name: str = "x") -> jax.Array:
    """A batch of flattened images ``(B, D)`` in the default float dtype, finite, and in
    ``[0, 1]`` if ``clip`` (checked where concrete). None, a string, a bool, a complex or
    non-numeric array is a TypeError (:func:`check_array`)."""
    if not (isinstance(x, jax.Array) and isinstance(x.dtype, np.dtype) and x.dtype.kind in "iuf"):
        # anything but a real JAX array (which stays on its device, unconverted)
        x = check_array(x, name, finite=False)
    host = np.asarray(x) if is_concrete(x) else None  # before jnp.asarray (see check_labels)
    x = jnp.asarray(x, dtype=float_dtype())
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"{name}: expected a batch of flattened images of shape (B, D), got shape {x.shape}")
    if host is not None:  # on the host: jnp reductions would be staged out under an enclosing jit
        h = host.astype(float_dtype())
        if not np.isfinite(h).all():
            raise ValueError(f"{name}: expected finite entries, got {int((~np.isfinite(h)).sum())} non-finite")
        if clip and not ((h >= 0) & (h <= 1)).all():
            raise ValueError(f"{name}: expected pixel values in [0, 1] (clip=True), got values in "
                             f"[{float(h.min()):g}, {float(h.max()):g}]; pass clip=False for unbounded inputs")
    return x


def check_labels(labels, batch: int, k: int, name: str) -> jax.Array:
    """Integer labels of shape ``(batch,)`` in ``[0, k)`` (range checked where concrete), as int32."""
    concrete = is_concrete(labels)  # before jnp.asarray, which stages a constant out under an enclosing jit
    host = np.asarray(labels) if concrete else None
    labels = jnp.asarray(labels)
    if labels.shape != (batch,):
        raise ValueError(f"{name}: expected integer labels of shape (B,) = ({batch},), got shape {labels.shape}")
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(f"{name}: expected integer labels, got dtype {labels.dtype}")
    if concrete:  # on the host: jnp reductions would be staged out under an enclosing jit
        h = host
        if not ((h >= 0) & (h < k)).all():
            raise ValueError(f"{name}: expected labels in [0, {k}) (K = {k} classes), got values in "
                             f"[{int(h.min())}, {int(h.max())}]")
    return labels.astype(jnp.int32)


def check_key(key):
    """A PRNG key (new-style or legacy uint32 ``(2,)``) or None."""
    dtype = getattr(key, "dtype", None)
    if key is None or (dtype is not None and (jnp.issubdtype(dtype, jax.dtypes.prng_key)
                                              or (jnp.shape(key) == (2,) and dtype == np.uint32))):
        return key
    raise ValueError(f"key: expected a PRNG key (jax.random.key or jax.random.PRNGKey) or None, got {key!r}")


def num_classes(logits_fn, x: jax.Array) -> int:
    """K from the shape of one abstract evaluation of a batched ``logits_fn`` ``(B, D) -> (B, K)``
    at ``x`` (no FLOPs spent)."""
    out = jax.eval_shape(logits_fn, jax.ShapeDtypeStruct(x.shape, x.dtype))
    shape = getattr(out, "shape", None)
    if shape is None or len(shape) != 2 or shape[0] != x.shape[0] or shape[1] < 2:
        raise ValueError(f"logits_fn: expected output shape (B, K) = ({x.shape[0]}, K) with K >= 2, "
                         f"got {shape if shape is not None else type(out).__name__}")
    return int(shape[1])


def _got(value) -> str:
    """What came, for a message: the type, and the dtype and shape of an array."""
    if hasattr(value, "dtype") and hasattr(value, "shape"):
        return f"{type(value).__name__} of dtype {value.dtype} and shape {tuple(value.shape)}"
    return f"{type(value).__name__} {value!r}" if isinstance(value, (bool, str, bytes)) else type(value).__name__


def check_array(x, name: str, *, shape: tuple | None = None, ndim: int | None = None, kind: str = "float",
                finite: bool = True) -> jax.Array:
    """``x`` as a JAX array of real numbers, checked.

    Args:
      x: array-like of numbers (a list, NumPy or JAX array; a scalar if ``ndim`` allows).
      name: the argument's name, for messages.
      shape: the expected shape; an entry None matches any length (e.g. ``(None, 784)``).
      ndim: the expected number of axes (when ``shape`` is not given).
      kind: ``"float"`` (converted to :func:`float_dtype`; integers are taken), or ``"int"``
        (an integer dtype required, kept).
      finite: reject NaN and infinite entries (checked where ``x`` is concrete; a traced
        value passes unchecked).

    Raises:
      TypeError: None, a string, a bool, a complex or non-numeric array, or a float array
        where ``kind="int"``.
      ValueError: the wrong shape, or non-finite entries.
    """
    if x is None or isinstance(x, (str, bytes, bool, np.bool_)) or callable(x):
        raise TypeError(f"{name}: expected an array of numbers, got {_got(x)}")
    if not is_concrete(x):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name}: expected an array of numbers, got {_got(x)} ({err})") from None
    dtype = np.dtype(arr.dtype) if not jnp.issubdtype(arr.dtype, jax.dtypes.prng_key) else None
    if dtype is None or dtype.kind not in "iuf":
        what = {"c": "complex values", "b": "booleans"}.get(getattr(dtype, "kind", ""), "non-numeric values")
        raise TypeError(f"{name}: expected real numbers, got {what} ({_got(arr)})")
    if kind == "int" and dtype.kind == "f":
        raise TypeError(f"{name}: expected integers, got {_got(arr)}")
    if shape is not None:
        if len(arr.shape) != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
            want = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
            raise ValueError(f"{name}: expected shape {want}, got {tuple(arr.shape)}")
    elif ndim is not None and len(arr.shape) != ndim:
        raise ValueError(f"{name}: expected {ndim} axes, got shape {tuple(arr.shape)}")
    out = jnp.asarray(arr, dtype=float_dtype()) if kind == "float" else jnp.asarray(arr)
    host = arr if is_concrete(arr) else None  # arr is NumPy unless x was traced
    if finite and dtype.kind == "f" and host is not None and not np.isfinite(h := np.asarray(host, out.dtype)).all():
        bad = int((~np.isfinite(h)).sum())
        raise ValueError(f"{name}: expected finite values, got {bad} NaN or infinite entr{'y' if bad == 1 else 'ies'}")
    return out


def check_choice(value, name: str, choices) -> str:
    """``value`` if it is one of ``choices`` (strings), else a ValueError listing them."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_bool(value, name: str) -> bool:
    """``value`` if it is a bool (Python or NumPy), else a TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {_got(value)}")
    return bool(value)


def check_path(path, name: str = "path") -> Path:
    """``path`` (a non-empty str or os.PathLike) as a ``Path``; TypeError otherwise."""
    if isinstance(path, (bool, bytes)) or not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(f"{name}: expected a file path (str or os.PathLike), got {type(path).__name__} {path!r}")
    return Path(path)
