"""Sign-ins kept for a moment, so that a busy process does not look up the same credentials on every request.

Each request proves who it is with a token or a session cookie, and looking that up is a database query:
about a sixth of an API process's work under load (docs/benchmarks.md, bench/load.py). A process keeps what
a lookup found for ``AUTH_CACHE_S`` (1 s by default; 0 turns it off), keyed by the database and the SHA-256 of
the credential (never the credential itself), and forgets everything at once whenever it changes an account
itself (``backend.store.account_changes``). So a revocation, a disabled user or a changed role takes effect at
once in the process that made it, and within ``AUTH_CACHE_S`` in the others (docs/security.md). Only found
sign-ins are kept: an unknown credential is looked up every time, so a token just issued by another process
works at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from backend.store.account_changes import changes

MAX_KEPT = 4096
T = TypeVar("T")


@dataclass(frozen=True)
class _Kept(Generic[T]):
    value: T
    changes: int  # the process's account changes when it was looked up
    until: float  # time.monotonic()


class SignIns(Generic[T]):
    """Thread-safe: the API's handlers run on AnyIO's worker threads."""

    def __init__(self, max_kept: int = MAX_KEPT) -> None:
        self._kept: OrderedDict[tuple[str, str, str], _Kept[T]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_kept

    def get(self, key: tuple[str, str, str]) -> T | None:
        """What was kept for ``key`` (database, scheme, credential hash), unless it aged out or an account changed."""
        with self._lock:
            kept = self._kept.get(key)
            if kept is None:
                return None
            if kept.changes != changes() or time.monotonic() >= kept.until:
                del self._kept[key]
                return None
            return kept.value

    def put(self, key: tuple[str, str, str], value: T, seconds: float, changes_before: int) -> None:
        """Keep ``value`` for ``seconds``; ``changes_before`` is ``changes()`` read before the lookup, so that a
        change committed during the lookup makes the kept value stale at once."""
        if seconds <= 0:
            return
        with self._lock:
            self._kept[key] = _Kept(value, changes_before, time.monotonic() + seconds)
            self._kept.move_to_end(key)
            while len(self._kept) > self._max:
                self._kept.popitem(last=False)
