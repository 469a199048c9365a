"""How the pages write numbers, money, shares, times and durations (Jinja filters and globals).

Times come from the API's response models as ``datetime`` (an API answer parsed by ``frontend.client``),
or as ISO text where a page still reads a plain dict (the summary); both are accepted.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from backend.schemas import RunOut
from pilot_spec.dates import as_utc, format_minute
from pilot_spec.money import format_number
from pilot_spec.status import RunStatus


def _parse_time(value: Any) -> datetime | None:
    """A moment the API wrote (datetime or ISO text) in UTC, as pilot_spec.dates reads it; None otherwise."""
    return as_utc(value) if isinstance(value, datetime | str) else None


def duration(start: Any, end: Any = None) -> str:
    """``1h 02m``, ``3m 05s``; empty before the start."""
    begin = _parse_time(start)
    if begin is None:
        return ""
    return _seconds(max(0, int(((_parse_time(end) or datetime.now(UTC)) - begin).total_seconds())))


def eta(run: RunOut) -> str:
    """Remaining time of a running run, from its pace so far."""
    done, total = run.epochs_done, run.epochs_total
    begin = _parse_time(run.started_at)
    if run.status != RunStatus.RUNNING or not done or begin is None or done >= total:
        return ""
    elapsed = (datetime.now(UTC) - begin).total_seconds()
    return duration(datetime.now(UTC).isoformat(), None) if elapsed <= 0 else _seconds(elapsed / done * (total - done))


def _seconds(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def minute(value: Any) -> str:
    """A moment to the minute with its zone, as the reports write it (pilot_spec.dates): ``2026-11-30 13:55 UTC``."""
    moment = _parse_time(value)
    return "" if moment is None else format_minute(moment)


def num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if digits > 0 and value != 0 and abs(value) < 10 ** (-digits):
        return format_number(value)  # three significant digits in positional notation, never 7.5e-05
    return f"{value:,.{digits}f}"


def pct(value: Any) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"
