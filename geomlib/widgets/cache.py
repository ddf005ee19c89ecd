"""A small least-recently-used cache (built neurons and axes, blitting backgrounds)."""

from __future__ import annotations

import collections
from typing import Callable, Hashable

__all__ = ["LRU"]


class LRU:
    """At most ``size`` items, the least recently used dropped first.

    >>> c = LRU(2)
    >>> [c.get(k, lambda k=k: k * 10) for k in (1, 2, 1, 3)], list(c.keys())
    ([10, 20, 10, 30], [1, 3])
    """

    def __init__(self, size: int):
        self.size = size
        self._items: collections.OrderedDict = collections.OrderedDict()

    def get(self, key: Hashable, make: Callable[[], object]):
        """The item under ``key``, made by ``make()`` (and kept) if it is not there; an item
        that is None is made again on every call."""
        item = self._items.get(key)
        if item is None:
            item = self._items[key] = make()
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(key)
        return item

    def keys(self):
        """The keys, least recently used first."""
        return self._items.keys()

    def clear(self) -> None:
        """Drop every item."""
        self._items.clear()
