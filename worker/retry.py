"""Retrying a database write that failed for a transient reason (a dropped connection, a locked SQLite file).

The database is the source of truth (docs/design.md §5), so a worker that cannot write a metric point or its final
status should not give up on the first hiccup: it waits a little and tries again, a few times, with
exponential backoff. Errors that say something is wrong with the request itself (``NotFound``, a constraint)
are not retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError

from backend.store import StoreUnavailable

T = TypeVar("T")

log = logging.getLogger(__name__)

# OperationalError: the server went away, a connection broke, SQLite was locked past its busy timeout.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OperationalError, StoreUnavailable)


def with_retries(
    action: Callable[[], T],
    *,
    what: str,
    attempts: int = 5,
    first_delay_s: float = 0.2,
    max_delay_s: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``action``; on a transient database error wait (0.2 s, 0.4 s, ... up to ``max_delay_s``) and retry.

    Raises the last error after ``attempts`` tries, so the caller can leave the run to the reconciler.
    """
    delay = first_delay_s
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except TRANSIENT_ERRORS as error:
            if attempt == attempts:
                log.error("%s failed %d times, giving up: %s", what, attempts, _one_line(error))
                raise
            log.warning(
                "%s failed (attempt %d of %d), retrying in %.1f s: %s", what, attempt, attempts, delay, _one_line(error)
            )
            sleep(delay)
            delay = min(max_delay_s, delay * 2)
    raise AssertionError("unreachable")  # the loop either returns or raises


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
