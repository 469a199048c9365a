"""Cost so far counts every second of compute (issue 16): a run cancelled or failed part-way used its device as
much as a finished one, so its device-hours are in the pilot's cost, on the pilot and in the list."""

from __future__ import annotations

import pytest

from backend.store import RunStatus
from tests.support.api import API, create_pilot, finish, open_api, start


def test_cost_so_far_counts_cancelled_and_failed_runs_device_time(sqlite_url: str) -> None:
    with open_api(sqlite_url, price_per_hour={"cpu": 2.0, "cuda": 3.0}) as api:
        pilot = create_pilot(api)
        done, cancelled, failed, queued = (run["id"] for run in pilot["runs"])
        finish(api.store, done, hours=0.5)
        # Cancelled while it trained, as the worker records it: the device time it used comes with it.
        start(api.store, cancelled)
        api.store.request_cancel(run_id=cancelled)
        spent = {"device_hours": 0.25, "device_kind": "cpu", "device_name": "cpu", "device_seconds": 900.0}
        api.store.finish_run(run_id=cancelled, status=RunStatus.CANCELLED, cost=spent)
        finish(api.store, failed, RunStatus.FAILED, hours=0.125)
        detail = api.client.get(f"{API}/pilots/{pilot['id']}").json()
        listed = api.client.get(f"{API}/pilots").json()["items"]
    statuses = {run["id"]: run["status"] for run in detail["runs"]}
    assert statuses == {done: "succeeded", cancelled: "cancelled", failed: "failed", queued: "queued"}
    expected = (0.5 + 0.25 + 0.125) * 2.0
    assert detail["progress"]["device_hours"] == pytest.approx(0.875)
    assert detail["progress"]["cost"] == pytest.approx(expected)
    (row,) = listed
    assert row["progress"]["cost"] == pytest.approx(expected)
