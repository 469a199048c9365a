"""The pages' filters take a time as the API's response models hold it (``datetime``) or as ISO text (the summary)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.schemas import RunOut
from frontend.filters import duration, eta, minute, num, pct

START = datetime(2026, 11, 30, 13, 55, 7, tzinfo=UTC)


def _run(**fields: object) -> RunOut:
    values: dict[str, object] = {
        "id": 1, "pilot_id": 1, "arm_id": 1, "arm": "none", "seed": 0, "status": "running", "attempts": 1,
        "queue": "cpu", "epochs_done": 2, "epochs_total": 4, "queued_at": START, "started_at": START,
        "finished_at": None, "heartbeat_at": None, "worker_host": None, "device": None, "cancel_requested": False,
        "error": None, "cost": None, "final_metrics": None, "config": {},
    }  # fmt: skip
    return RunOut.model_validate({**values, **fields})


def test_a_duration_reads_datetimes_and_iso_text_alike() -> None:
    end = START + timedelta(hours=1, minutes=2, seconds=3)
    assert duration(START, end) == duration(START.isoformat(), end.isoformat()) == "1h 02m"
    assert duration(START.replace(tzinfo=None), end) == "1h 02m"  # naive means UTC
    assert duration(START, START + timedelta(seconds=185)) == "3m 05s"
    assert duration(None) == "" and duration(START, START - timedelta(seconds=5)) == "0m 00s"


def test_minute_writes_the_moment_in_utc_with_its_zone_as_the_reports_do() -> None:
    assert minute(START) == minute("2026-11-30T13:55:07Z") == "2026-11-30 13:55 UTC"
    assert minute("2026-11-30T14:55:07+01:00") == "2026-11-30 13:55 UTC"
    assert minute(None) == ""


def test_eta_only_for_a_running_run_with_a_pace() -> None:
    started = datetime.now(UTC) - timedelta(minutes=10)
    assert eta(_run(started_at=started)) in ("10m 00s", "9m 59s", "10m 01s")  # 2 of 4 epochs in 10 minutes
    assert eta(_run(started_at=started, status="queued")) == ""
    assert eta(_run(started_at=started, epochs_done=0)) == ""
    assert eta(_run(started_at=None)) == ""


def test_numbers_money_and_shares() -> None:
    # Never scientific notation (issue 16): a tiny number keeps three significant digits in positional notation.
    assert (num(None), num(float("nan")), num(1234.5), num(0.0001)) == ("–", "–", "1,234.500", "0.0001")
    assert num(7.538e-05) == "0.0000754"
    assert (pct(None), pct(0.1234)) == ("–", "12.34%")
