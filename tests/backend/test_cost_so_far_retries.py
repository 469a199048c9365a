"""A retry keeps the compute of the attempts before it (issue 16): ``retry_run`` moves the last attempt's
device-hours into ``runs.earlier_device_hours`` (per device), the pilot's cost so far and the pilots list count
them at their devices' prices, and the run's own ``cost`` (what the analysis reads) stays the last attempt's."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from backend.store import RunStatus, Store
from backend.store.schema import head_revision, upgrade
from tests.support.api import API, create_pilot, finish, open_api, start
from tests.support.site import open_site
from tests.support.store import create


def _cancelled_after(store: Store, run_id: int, hours: float, device: str = "cpu") -> None:
    """Claimed, then cancelled while it trained, with the device time it used (as the worker records it)."""
    start(store, run_id, device=device)
    store.request_cancel(run_id=run_id)
    spent = {"device_hours": hours, "device_kind": device.partition(":")[0], "device_seconds": hours * 3600}
    store.finish_run(run_id=run_id, status=RunStatus.CANCELLED, cost=spent)


def test_retries_accumulate_earlier_hours_per_device(store: Store) -> None:
    pilot = create(store)
    run_id = store.list_runs(pilot_id=pilot.id)[0].id
    _cancelled_after(store, run_id, 0.25)
    retried = store.retry_run(run_id=run_id)
    assert retried.cost is None and retried.earlier_device_hours == {"cpu": pytest.approx(0.25)}
    finish(store, run_id, RunStatus.FAILED, hours=0.5)
    store.retry_run(run_id=run_id)  # twice: the second attempt's hours add to the first's
    finish(store, run_id, RunStatus.FAILED, hours=0.125, device="cuda:0")
    again = store.retry_run(run_id=run_id)  # a claim writes the device anew: kept apart, to be priced apart
    assert again.earlier_device_hours == {"cpu": pytest.approx(0.75), "cuda:0": pytest.approx(0.125)}
    done = finish(store, run_id, hours=1.0)
    assert done.cost is not None and done.cost["device_hours"] == 1.0  # the last attempt's, for the analysis
    assert done.earlier_device_hours == again.earlier_device_hours
    progress = store.pilot_progress(pilot_id=pilot.id)
    assert progress.device_hours == pytest.approx(1.875)
    assert progress.device_hours_by_device == {"cpu": pytest.approx(1.75), "cuda:0": pytest.approx(0.125)}
    (listed,), _ = store.list_pilots()
    assert listed.device_hours_by_device == progress.device_hours_by_device


def test_a_run_cancelled_before_any_worker_adds_nothing(store: Store) -> None:
    pilot = create(store)
    run_id = store.list_runs(pilot_id=pilot.id)[0].id
    store.request_cancel(run_id=run_id)
    assert store.retry_run(run_id=run_id).earlier_device_hours == {}
    assert store.pilot_progress(pilot_id=pilot.id).device_hours == 0.0


def test_cost_so_far_sums_every_attempt_on_the_pilot_and_in_the_list(database_url: str) -> None:
    with open_api(database_url, price_per_hour={"cpu": 2.0, "cuda": 3.0}) as api:
        pilot = create_pilot(api)
        retried, done = pilot["runs"][0]["id"], pilot["runs"][1]["id"]
        finish(api.store, done, hours=0.5)
        _cancelled_after(api.store, retried, 0.25)
        response = api.client.post(f"{API}/runs/{retried}/retry")
        assert response.status_code == 200, response.text
        assert response.json()["earlier_device_hours"] == {"cpu": pytest.approx(0.25)}
        before = api.client.get(f"{API}/pilots/{pilot['id']}").json()["progress"]
        finish(api.store, retried, hours=0.125, device="cuda:0")  # the second attempt on a GPU
        detail = api.client.get(f"{API}/pilots/{pilot['id']}").json()
        (row,) = api.client.get(f"{API}/pilots").json()["items"]
        summary = api.client.get(f"{API}/pilots/{pilot['id']}/summary?curves=none").json()
    assert before["cost"] == pytest.approx((0.5 + 0.25) * 2.0)  # queued again: the first attempt still counts
    expected = (0.5 + 0.25) * 2.0 + 0.125 * 3.0
    assert detail["progress"]["cost"] == pytest.approx(expected)
    assert detail["progress"]["device_hours"] == pytest.approx(0.875)
    assert row["progress"]["cost"] == pytest.approx(expected)
    assert row["progress"]["device_hours"] == pytest.approx(0.875)
    run = next(r for r in detail["runs"] if r["id"] == retried)
    assert run["cost"]["device_hours"] == 0.125 and run["earlier_device_hours"] == {"cpu": pytest.approx(0.25)}
    # The analysis reads each run's last attempt: the arm's mean training time is unchanged by the retry.
    hours = {arm["arm"]: arm["device_hours"]["mean"] for arm in summary["arms"]}
    assert hours[run["arm"]] == pytest.approx(0.125)


def test_the_migration_upgrades_a_0011_database_with_runs(database_url: str) -> None:
    store = Store(database_url)
    try:
        upgrade(store.engine, "0011")
        with store.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO pilots (id, name, description, dataset, dataset_params, model, training, seeds,"
                    " baseline_arm, roi, queue, created_at, updated_at)"
                    " VALUES (1, 'old', '', 'digits', '{}', 'small_cnn', '{}', '[0]', 'none', '{}', 'cpu',"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                text("INSERT INTO arms (id, pilot_id, name, regularizer, params) VALUES (1, 1, 'none', 'none', '{}')")
            )
            connection.execute(
                text(
                    "INSERT INTO runs (id, pilot_id, arm_id, seed, status, attempts, queue, config, epochs_total,"
                    " epochs_done, cancel_requested, device, device_hours, cost)"
                    " VALUES (1, 1, 1, 0, 'failed', 1, 'cpu', '{}', 3, 1, false, 'cpu', 0.5, '{\"device_hours\": 0.5}')"
                )
            )
        store.upgrade()
        with store.engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
        assert store.get_run(run_id=1).earlier_device_hours == {}
        assert store.retry_run(run_id=1).earlier_device_hours == {"cpu": pytest.approx(0.5)}
        assert store.pilot_progress(pilot_id=1).device_hours == pytest.approx(0.5)
    finally:
        store.dispose()


def test_the_run_page_shows_earlier_attempts(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        pilot = create_pilot(site)
        run_id = pilot["runs"][0]["id"]
        assert "Earlier attempts" not in site.client.get(f"/runs/{run_id}").text
        finish(site.store, run_id, RunStatus.FAILED, hours=0.125)
        site.store.retry_run(run_id=run_id)
        page = site.client.get(f"/runs/{run_id}").text
    assert "<dt>Earlier attempts</dt><dd>0.1250 device-h" in page


def test_extending_counts_earlier_attempts_in_the_existing_total(sqlite_url: str) -> None:
    with open_api(sqlite_url) as api:
        pilot = create_pilot(api, roi={"price_per_device_hour": 2.0})
        run_ids = [run["id"] for run in pilot["runs"]]
        _cancelled_after(api.store, run_ids[0], 0.25)
        api.store.retry_run(run_id=run_ids[0])
        queued = api.client.post(f"{API}/pilots/{pilot['id']}/extend", json={"seeds": 1, "dry_run": True}).json()
        for run_id in run_ids:
            finish(api.store, run_id, hours=0.5)
        done = api.client.post(f"{API}/pilots/{pilot['id']}/extend", json={"seeds": 1, "dry_run": True}).json()
    per_run = queued["estimate"]["device_hours"] / queued["estimate"]["runs"]  # the new runs are like the old ones
    assert queued["total"]["existing_device_hours"] == pytest.approx(4 * per_run + 0.25)  # estimated + spent
    assert queued["total"]["existing_cost"] == pytest.approx((4 * per_run + 0.25) * 2.0)
    assert done["total"]["existing_device_hours"] == pytest.approx(4 * 0.5 + 0.25)  # measured + spent
    assert done["total"]["existing_cost"] == pytest.approx((4 * 0.5 + 0.25) * 2.0)
