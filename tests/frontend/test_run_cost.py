"""The run page shows the run's cost (device time of the training steps) and its wall time side by side."""

from __future__ import annotations

from backend.store import RunStatus
from tests.support.api import create_pilot, start
from tests.support.site import open_site


def test_run_page_shows_device_time_beside_wall_time(sqlite_url: str) -> None:
    cost = {
        "device_kind": "cpu",
        "device_name": "cpu",
        "cost_basis": "median_epoch_steps",
        "device_seconds": 36.0,
        "device_hours": 0.01,
        "train_seconds": 51.5,
        "step_seconds_median_epoch": 12.0,
        "epochs_timed": 3,
        "wall_seconds": 84.7,
        "wall_hours": 84.7 / 3600,
        "cpu_seconds": 60.25,
        "samples_per_second": 1234.0,
    }
    with open_site(sqlite_url) as site:
        run = create_pilot(site)["runs"][0]
        start(site.store, run["id"])
        site.store.finish_run(run_id=run["id"], status=RunStatus.SUCCEEDED, cost=cost, final_metrics={"test_acc": 0.9})
        text = site.client.get(f"/runs/{run['id']}").text
    assert "<dt>Device time</dt><dd>36.0 s · 0.0100 device-h" in text and "median epoch steps" in text
    assert "<dt>Wall time</dt><dd>84.7 s · 0.0235 h</dd>" in text
    assert "step seconds median epoch" in text and "cpu seconds" in text and "1,234" in text


def test_run_page_without_timings_shows_a_dash_not_dangling_units(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        run = create_pilot(site)["runs"][0]
        start(site.store, run["id"])
        site.store.finish_run(run_id=run["id"], status=RunStatus.FAILED, cost={"device_kind": "cpu"}, error="boom")
        text = site.client.get(f"/runs/{run['id']}").text
    assert "<dt>Device time</dt><dd>–" in text and "<dt>Wall time</dt><dd>–</dd>" in text
    assert "– s" not in text and "– h" not in text
