"""Slowing password guessing: a few failed sign-ins per name, or per client address, then a pause.

Kept in the API process's memory: one API process serves the system (docs/design.md §1), and a restart that
forgets the counts only gives a guesser back one window. Several API replicas would each count alone;
their limit then multiplies by the number of replicas, which the deploy notes say.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


class TooManyAttempts(Exception):
    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        super().__init__(f"too many failed sign-ins; try again in {self.retry_after_s} s")


class LoginThrottle:
    """At most ``max_failures`` failures per name and ``4 * max_failures`` per address within ``window_s``."""

    def __init__(self, *, max_failures: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._limits = {"name": max_failures, "addr": 4 * max_failures}
        self._window_s = window_s
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self._window_s:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times

    def check(self, *, name: str, address: str) -> None:
        """Raise :class:`TooManyAttempts` if either the name or the address is paused."""
        now = self._clock()
        with self._lock:
            for key in (("name", name.casefold()), ("addr", address)):
                times = self._recent(key, now)
                if len(times) >= self._limits[key[0]]:
                    raise TooManyAttempts(times[0] + self._window_s - now)

    def failed(self, *, name: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            for key in (("name", name.casefold()), ("addr", address)):
                self._recent(key, now)
                self._failures.setdefault(key, deque()).append(now)
                if len(self._failures) > 100_000:  # a flood of made-up names must not grow memory forever
                    self._failures.clear()

    def succeeded(self, *, name: str) -> None:
        with self._lock:
            self._failures.pop(("name", name.casefold()), None)
