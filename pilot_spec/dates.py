"""Moments as a person reads them: to the minute, with the time zone ("2026-11-30 16:42 UTC"), never microseconds.

The store keeps every moment in UTC; the reports (and any page that shows a date) write it with this one
formatter, so a date reads the same everywhere (issue 16). Naive datetimes are taken as UTC (SQLite gives them
back without a zone); aware ones are converted to UTC first.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pilot_spec.money import MISSING

MINUTE_FORMAT = "%Y-%m-%d %H:%M UTC"


def as_utc(moment: datetime | str) -> datetime:
    """``moment`` (a datetime or ISO 8601 text) in UTC; a naive one is taken to be UTC already."""
    parsed = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_minute(moment: datetime | str | None) -> str:
    """``2026-11-30 16:42 UTC`` (seconds dropped, not rounded: a run finished at 16:42:59 finished at 16:42);
    "–" when there is no moment."""
    if moment is None or moment == "":
        return MISSING
    return as_utc(moment).strftime(MINUTE_FORMAT)
