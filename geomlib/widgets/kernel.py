"""The IPython kernel the widgets run in: its event loop, where deferred renders go."""

from __future__ import annotations

import asyncio

__all__ = ["kernel_loop"]


def kernel_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop of the IPython kernel we run in, or None outside a kernel.

    Asking only for a running loop is not enough: a library that drives its own loop
    from synchronous code (Playwright's sync API, for one) leaves that loop registered
    as running in the main thread, and a render deferred onto it would never happen."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
