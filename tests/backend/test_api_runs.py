"""The runs, workers and health API, and the reconciler, against the real store driven as a worker drives it."""

from __future__ import annotations

import itertools
import math
import time

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.dispatch import reconcile_once
from backend.settings import Settings
from backend.store import RunStatus, Store
from tests.support.api import API, Api, RecordingQueue, create_pilot, finish, open_api, start


def _run_ids(api: Api, **overrides: object) -> list[int]:
    return [run["id"] for run in create_pilot(api, **overrides)["runs"]]


def test_get_a_run(api: Api) -> None:
    run_id = _run_ids(api)[0]
    body = api.client.get(f"{API}/runs/{run_id}").json()
    assert body["id"] == run_id and body["status"] == "queued" and body["attempts"] == 0
    assert body["config"]["seed"] == body["seed"] and "predictions" not in body
    finish(api.store, run_id, device="cuda:NVIDIA H100", hours=0.25)
    body = api.client.get(f"{API}/runs/{run_id}").json()
    assert body["status"] == "succeeded" and body["device"] == "cuda:NVIDIA H100" and body["attempts"] == 1
    assert body["cost"]["device_hours"] == 0.25 and body["final_metrics"] == {"test_acc": 0.9}


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/runs/999"), ("post", "/runs/999/cancel"), ("post", "/runs/999/retry"), ("get", "/runs/999/metrics")],
)
def test_unknown_run_is_404(api: Api, method: str, path: str) -> None:
    response = api.client.request(method, f"{API}{path}")
    assert response.status_code == 404 and response.json()["detail"] == "run 999 does not exist"


def test_cancel_queued_running_and_finished_runs(api: Api) -> None:
    queued, running, done, _ = _run_ids(api)
    assert api.client.post(f"{API}/runs/{queued}/cancel").json()["status"] == "cancelled"
    start(api.store, running)
    body = api.client.post(f"{API}/runs/{running}/cancel").json()
    assert body["status"] == "cancelling" and body["cancel_requested"] is True
    assert api.store.heartbeat(run_id=running) is True  # the worker's should_stop reads the flag
    finish(api.store, done)
    conflict = api.client.post(f"{API}/runs/{done}/cancel")
    assert conflict.status_code == 409 and "succeeded" in conflict.json()["detail"]
    again = api.client.post(f"{API}/runs/{queued}/cancel")
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]


def test_retry_failed_and_cancelled_runs_only(api: Api) -> None:
    failed, cancelled, queued, succeeded = _run_ids(api)
    api.queue.sent.clear()
    finish(api.store, failed, RunStatus.FAILED, points=[("train_loss", 0, math.nan)])
    api.client.post(f"{API}/runs/{cancelled}/cancel")
    finish(api.store, succeeded)
    for run_id, status in ((queued, "queued"), (succeeded, "succeeded")):
        conflict = api.client.post(f"{API}/runs/{run_id}/retry")
        assert conflict.status_code == 409 and status in conflict.json()["detail"]
    assert api.queue.sent == []

    body = api.client.post(f"{API}/runs/{failed}/retry").json()
    assert body["status"] == "queued" and body["attempts"] == 0 and body["error"] is None
    assert (
        api.client.get(f"{API}/runs/{failed}/metrics", params={"format": "rows"}).json()["points"] == []
    )  # starts from scratch
    assert api.client.post(f"{API}/runs/{cancelled}/retry").json()["status"] == "queued"
    assert api.queue.sent == [(failed, "cpu"), (cancelled, "cpu")]


def test_metrics_downsampling_keeps_first_and_last(api: Api) -> None:
    run_id = _run_ids(api)[0]
    points = [("test_acc", epoch, epoch / 100) for epoch in range(100)]
    points += [("train_loss", epoch, 1.0) for epoch in range(3)]
    finish(api.store, run_id, points=points)
    body = api.client.get(f"{API}/runs/{run_id}/metrics", params={"format": "rows", "max_points": 10}).json()
    acc = [p for p in body["points"] if p["key"] == "test_acc"]
    loss = [p for p in body["points"] if p["key"] == "train_loss"]
    assert len(acc) == 10 and acc[0]["epoch"] == 0 and acc[-1]["epoch"] == 99
    gaps = {b["epoch"] - a["epoch"] for a, b in itertools.pairwise(acc)}
    assert gaps <= {11, 12}  # even striding
    assert [p["epoch"] for p in loss] == [0, 1, 2]  # shorter series stay whole
    two = api.client.get(
        f"{API}/runs/{run_id}/metrics", params={"format": "rows", "max_points": 2, "keys": "test_acc"}
    ).json()
    assert [p["epoch"] for p in two["points"]] == [0, 99]
    assert len(api.client.get(f"{API}/runs/{run_id}/metrics", params={"format": "rows"}).json()["points"]) == 103


def test_non_finite_values_survive_as_null_with_their_name(api: Api) -> None:
    run_id = _run_ids(api)[0]
    values = [0.5, math.nan, math.inf, -math.inf, 1e-300, -0.0, 1e300]
    finish(api.store, run_id, points=[("train_loss", epoch, value) for epoch, value in enumerate(values)])
    response = api.client.get(f"{API}/runs/{run_id}/metrics", params={"format": "rows", "keys": "train_loss"})
    assert response.headers["content-type"] == "application/json"
    points = response.json()["points"]
    assert [(p["value"], p["nonfinite"]) for p in points] == [
        (0.5, None),
        (None, "NaN"),
        (None, "Infinity"),
        (None, "-Infinity"),
        (1e-300, None),
        (-0.0, None),
        (1e300, None),
    ]
    assert "NaN," not in response.text  # strict JSON: no bare NaN tokens


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"max_points": 1}, "max_points"),
        ({"max_points": "many"}, "max_points"),
        ({"keys": "test_acc,\x01bad"}, "keys"),
        ({"keys": ",".join(f"k{i}" for i in range(101))}, "keys"),
    ],
)
def test_bad_metrics_parameters_are_422(api: Api, params: dict[str, object], field: str) -> None:
    run_id = _run_ids(api)[0]
    response = api.client.get(f"{API}/runs/{run_id}/metrics", params={**params, "format": "rows"})
    assert response.status_code == 422 and field in response.json()["detail"]


def test_unknown_keys_give_no_points(api: Api) -> None:
    run_id = _run_ids(api)[0]
    finish(api.store, run_id, points=[("test_acc", 0, 0.5)])
    params = {"keys": "nope, ünïcode 🚀"}
    assert api.client.get(f"{API}/runs/{run_id}/metrics", params={**params, "format": "rows"}).json() == {"points": []}


def test_workers_and_queue_depths(api: Api) -> None:
    run_id = _run_ids(api)[0]
    api.store.worker_seen(
        name="gpu-0@box", host="box", device="cuda:NVIDIA H100", queues=["gpu"], current_run_id=run_id
    )
    api.store.worker_seen(name="cpu@box", host="box", device="cpu", queues=["cpu"], current_run_id=None)
    api.queue.queue_depths = {"gpu": 3, "cpu": None}
    body = api.client.get(f"{API}/workers").json()
    assert body["queue_depths"] == {"gpu": 3, "cpu": None} and body["seen_within_s"] == 120.0
    workers = {w["name"]: w for w in body["workers"]}
    assert workers["gpu-0@box"]["device"] == "cuda:NVIDIA H100" and workers["gpu-0@box"]["current_run_id"] == run_id
    assert workers["cpu@box"]["queues"] == ["cpu"] and workers["cpu@box"]["current_run_id"] is None


def test_health_counts_live_workers(api: Api) -> None:
    assert api.client.get(f"{API}/health").json() == {"status": "ok", "database": "ok", "workers": 0}
    api.store.worker_seen(name="w", host="h", device="cpu", queues=["cpu"], current_run_id=None)
    response = api.client.get(f"{API}/health")
    assert response.status_code == 200 and response.json()["workers"] == 1


def test_unreachable_database_is_503_not_500() -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1
    settings = Settings(database_url=url, broker_url="memory://")
    store = Store(url)
    app = create_app(settings, store=store, queue=RecordingQueue())
    # No lifespan: the schema upgrade would fail first. Checking the token needs the database too (a token
    # of the right shape, so that it is checked at all); unchecked, the caller is anonymous to health.
    client = TestClient(app, headers={"Authorization": "Bearer rbp_" + "a" * 43})
    response = client.get(f"{API}/health")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": None, "workers": None}
    for path in ("/pilots", "/pilots/1", "/runs/1", "/workers"):
        response = client.get(f"{API}{path}")
        assert response.status_code == 503 and "database" in response.json()["detail"], path
    dry = client.post(f"{API}/pilots", json={"name": "p", "dataset": "digits", "arms": [{"regularizer": "none"}]})
    assert dry.status_code == 503
    store.dispose()


def test_catalog_routes(api: Api) -> None:
    catalog = api.client.get(f"{API}/catalog").json()
    assert set(catalog) >= {"datasets", "models", "arms", "training", "pairing_limits"}
    arms = api.client.get(f"{API}/catalog/arms").json()
    assert arms["rblock_s"]["passes"] == 2 and arms["rblock_s"]["params"]["drop_prob"]["default"] == 0.1
    assert "digits" in api.client.get(f"{API}/catalog/datasets").json()
    assert api.client.get(f"{API}/catalog/models").json()["small_cnn"]["params"]["width"]["default"] == 32
    assert api.client.get(f"{API}/catalog/training").json()["epochs"]["maximum"] == 10_000


def test_reconcile_requeues_lost_runs_and_fails_them_after_max_attempts(sqlite_url: str) -> None:
    with open_api(sqlite_url, heartbeat_timeout_s=0.2, max_attempts=2) as api:
        first, second, *_ = _run_ids(api)
        api.queue.sent.clear()
        start(api.store, first)
        start(api.store, second)
        time.sleep(0.3)
        api.store.heartbeat(run_id=second)  # still alive
        requeued, failed = reconcile_once(store=api.store, queue=api.queue, settings=api.settings)
        assert [run.id for run in requeued] == [first] and failed == []
        assert api.queue.sent == [(first, "cpu")]
        assert api.store.get_run(run_id=first).status == RunStatus.QUEUED

        start(api.store, first, stale_after_s=0.2)  # attempt 2, and that worker dies too
        time.sleep(0.3)
        api.store.heartbeat(run_id=second)
        requeued, failed = reconcile_once(store=api.store, queue=api.queue, settings=api.settings)
        assert requeued == [] and [run.id for run in failed] == [first]
        body = api.client.get(f"{API}/runs/{first}").json()
        assert body["status"] == "failed" and "lost" in body["error"]


def test_the_app_reconciles_in_the_background(sqlite_url: str) -> None:
    with open_api(sqlite_url, heartbeat_timeout_s=0.2, reconcile_every_s=0.1) as api:
        run_id = _run_ids(api)[0]
        api.queue.sent.clear()
        start(api.store, run_id)
        deadline = time.monotonic() + 10
        while not api.queue.sent and time.monotonic() < deadline:
            time.sleep(0.05)
        assert api.queue.sent == [(run_id, "cpu")]
        assert api.client.get(f"{API}/runs/{run_id}").json()["status"] == "queued"
