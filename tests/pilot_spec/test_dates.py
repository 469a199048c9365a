"""Dates to the minute with the time zone (issue 16): one formatter for the reports and the pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from pilot_spec.dates import format_minute


def test_a_moment_is_written_to_the_minute_in_utc() -> None:
    assert format_minute(datetime(2026, 11, 30, 16, 42, 59, 123456, tzinfo=UTC)) == "2026-11-30 16:42 UTC"


def test_a_naive_moment_is_utc_and_an_aware_one_is_converted() -> None:
    assert format_minute(datetime(2026, 11, 30, 16, 42, 5)) == "2026-11-30 16:42 UTC"
    paris = timezone(timedelta(hours=1))
    assert format_minute(datetime(2026, 11, 30, 17, 42, tzinfo=paris)) == "2026-11-30 16:42 UTC"


def test_iso_text_is_accepted_and_nothing_is_a_dash() -> None:
    assert format_minute("2026-11-30T16:42:07.5+00:00") == "2026-11-30 16:42 UTC"
    assert format_minute(None) == "–"
