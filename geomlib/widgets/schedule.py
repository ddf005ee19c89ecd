"""When the plane explorer renders: its scheduling policy, apart from the event loop that
carries it out. The policy is pure (times come in as arguments), so it is testable
without a kernel, a browser or ipywidgets.

A dragged slider sends a burst of messages. In a kernel the render of a change is
deferred by ``COALESCE_SECONDS``, so a burst (including the messages queued during the
previous render) becomes one render of the latest values instead of a growing backlog.
Exception: when the last render took more than ``SLOW_SECONDS`` (a slow neuron, where
waiting is pointless) and ended at least ``COALESCE_SECONDS`` ago, the render runs at
once, inside the message, so that the kernel shows busy while it draws (a deferred
render runs while the kernel reports idle). Outside a kernel every change renders at
once, at full resolution. A neuron whose last full-resolution render took more than
``PREVIEW_SECONDS`` is drawn first on a coarse preview grid; the full-resolution render
follows ``FULL_AFTER_SECONDS`` later unless the next change cancels it, so it runs once
the controls rest.

>>> s = RenderSchedule()
>>> s.on_change(now=0.0, in_kernel=True, last_seconds=None)
'defer'
>>> s.on_change(now=0.01, in_kernel=True, last_seconds=None)  # shown by the deferred render
'skip'
>>> s.flushed()
>>> s.rendered(0.5, preview=False, at=1.0)
>>> s.on_change(now=1.1, in_kernel=True, last_seconds=0.5), s.preview_first(in_kernel=True, has_preview=True)
('progressive', True)
"""

from __future__ import annotations

import contextlib
import math

__all__ = ["COALESCE_SECONDS", "DEFER", "FULL_AFTER_SECONDS", "NOW", "PREVIEW_SECONDS", "PROGRESSIVE",
           "RenderSchedule", "SKIP", "SLOW_SECONDS"]

#: Slider messages arriving within this many seconds are drawn once.
COALESCE_SECONDS = 0.03
#: ... unless the last render took longer than this: then the next one runs at once.
SLOW_SECONDS = 0.25
#: A slider-driven update of a neuron whose last full update took longer than this is
#: drawn first on the coarse preview grid, then at full resolution.
PREVIEW_SECONDS = 0.2
#: The full-resolution update follows a preview after this many idle seconds.
FULL_AFTER_SECONDS = 0.05

#: What to do with a change (:meth:`RenderSchedule.on_change`): render at once at full
#: resolution; render at once, preview first if slow (:meth:`RenderSchedule.preview_first`);
#: render that way ``coalesce`` seconds from now; nothing (a deferred render will show it).
NOW, PROGRESSIVE, DEFER, SKIP = "now", "progressive", "defer", "skip"


class RenderSchedule:
    """The explorer's render timing: what a control change triggers, given what the
    last renders took.

    Args:
      coalesce, slow, preview, full_after: seconds, as ``COALESCE_SECONDS``,
        ``SLOW_SECONDS``, ``PREVIEW_SECONDS`` and ``FULL_AFTER_SECONDS``.

    Attributes:
      pending: a deferred render is scheduled (changes until it runs are shown by it).
      holding: changes are being made by code that renders itself (see :meth:`hold`).
      full_seconds: duration of the last full-resolution render.
      rendered_at: when the last render ended (the clock of ``now``).
    """

    def __init__(self, coalesce: float = COALESCE_SECONDS, slow: float = SLOW_SECONDS,
                 preview: float = PREVIEW_SECONDS, full_after: float = FULL_AFTER_SECONDS):
        self.coalesce, self.slow, self.preview, self.full_after = coalesce, slow, preview, full_after
        self.pending = self.holding = False
        self.full_seconds = 0.0
        self.rendered_at = -math.inf

    @contextlib.contextmanager
    def hold(self):
        """Within the block, changes trigger nothing (:meth:`on_change` is not to be asked)."""
        self.holding = True
        try:
            yield
        finally:
            self.holding = False

    def on_change(self, now: float, in_kernel: bool, last_seconds: float | None) -> str:
        """What a control change at time ``now`` triggers: :data:`NOW`, :data:`PROGRESSIVE`,
        :data:`DEFER` (then call :meth:`flushed` when the deferred render starts) or
        :data:`SKIP`. ``last_seconds``: duration of the last render (None: none recorded)."""
        if not in_kernel:
            return NOW
        if self.pending:
            return SKIP
        if last_seconds is not None and last_seconds > self.slow and now - self.rendered_at >= self.coalesce:
            return PROGRESSIVE
        self.pending = True
        return DEFER

    def flushed(self) -> None:
        """The deferred render starts: later changes are new."""
        self.pending = False

    def preview_first(self, in_kernel: bool, has_preview: bool) -> bool:
        """Whether a progressive render draws the coarse preview first (and the full
        resolution ``full_after`` seconds later): in a kernel, with a preview grid, for a
        neuron whose last full render was slower than ``preview``."""
        return in_kernel and has_preview and self.full_seconds > self.preview

    def rendered(self, seconds: float, preview: bool, at: float) -> None:
        """A render of ``seconds`` ended at time ``at`` (on the preview grid if ``preview``)."""
        self.rendered_at = at
        if not preview:
            self.full_seconds = seconds
