"""A count of this process's changes to accounts, which cached sign-ins compare against (``backend.auth.signins``).

Every store method that can end or change what a credential grants (a token revoked, a user disabled, a role,
password or limits changed, a session ended) calls ``note_change`` after its transaction commits, so that a
sign-in kept in this process is never served after a change this process made. Other processes' changes reach
it when the kept sign-in ages out (``AUTH_CACHE_S``).
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_changes = 0


def note_change() -> None:
    global _changes
    with _lock:
        _changes += 1


def changes() -> int:
    """How many account changes this process has made (any store, any database)."""
    return _changes
