"""The store of the API's version-keyed caches (``backend/summary_cache.py``, ``backend/metrics_cache.py``).

Their keys start with (pilot id, version, creation time, ...): an answer of one state of a pilot. A state
older than the newest one kept is never asked for again (every request reads the current version first), so
putting a newer one drops the pilot's older entries, and beyond ``max_entries`` the least recently used go.
Not locked: each cache holds its own lock around these calls.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=tuple[Hashable, ...])
V = TypeVar("V")


class NewestVersions(Generic[K, V]):
    def __init__(self, max_entries: int) -> None:
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._max = max_entries
        self.hits = 0  # values found by get
        self.misses = 0  # values put (built because get found none)

    def get(self, key: K) -> V | None:
        """The value under ``key`` (now the most recently used, counted as a hit), or None."""
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
            self.hits += 1
        return value

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` under ``key`` (counted as a miss), dropping the other states of the same pilot and the
        least recently used."""
        self.misses += 1
        for old in [k for k in self._entries if k[0] == key[0] and k[1:3] != key[1:3]]:
            del self._entries[old]
        self._entries[key] = value
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
