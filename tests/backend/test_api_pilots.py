"""The pilots API against the real store: create (dry run and real), validation, budget, lists, cancel, delete."""

from __future__ import annotations

import math
from typing import Any

import pytest

from backend.estimate import STEP_FACTOR
from backend.store import RunStatus
from pilot_spec.training import RUN_CONFIG_FIELDS
from tests.support.api import API, Api, create_pilot, finish, open_api, pilot_body, start


def test_dry_run_estimates_and_queues_nothing(api: Api) -> None:
    response = api.client.post(f"{API}/pilots", json=pilot_body(dry_run=True))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dry_run"] is True and body["pilot"] is None
    assert body["queue"] == "cpu" and body["baseline_arm"] == "none" and body["seeds"] == [0, 1]
    estimate = body["estimate"]
    assert estimate["basis"] == "reference" and estimate["device_kind"] == "cpu" and estimate["runs"] == 4
    none, rblock = estimate["arms"]
    assert (none["passes"], rblock["passes"]) == (1, 2)
    assert none["samples_per_run"] == 2 * 1437 and rblock["samples_per_run"] == 2 * 2 * 1437
    # The two-pass arm costs its measured step factor, not a blind 2x; evaluation is estimated beside the cost.
    assert rblock["device_hours"] == pytest.approx(STEP_FACTOR["rblock_s"] * none["device_hours"])
    assert 0 < none["eval_hours"] < rblock["eval_hours"] and estimate["eval_hours"] > 0
    assert estimate["device_hours"] == pytest.approx(none["device_hours"] + rblock["device_hours"])
    assert estimate["cost"] == pytest.approx(estimate["device_hours"] * 0.05)
    assert api.queue.sent == []
    assert api.client.get(f"{API}/pilots").json()["total"] == 0


def test_create_list_and_get(api_any: Api) -> None:
    api = api_any
    response = api.client.post(f"{API}/pilots", json=pilot_body(description="ünïcode ✓"))
    assert response.status_code == 201, response.text
    body = response.json()
    pilot = body["pilot"]
    runs = pilot["runs"]
    assert len(runs) == 4 and {r["status"] for r in runs} == {"queued"}
    assert sorted((r["arm"], r["seed"]) for r in runs) == [("none", 0), ("none", 1), ("rblock_s", 0), ("rblock_s", 1)]
    # Enqueued by id after the commit (RecordingQueue checks that each run was in the database), on "cpu".
    assert sorted(api.queue.sent) == sorted((r["id"], "cpu") for r in runs)
    config = runs[0]["config"]
    assert sorted(config) == sorted(RUN_CONFIG_FIELDS)  # PostgreSQL (JSONB) does not keep key order
    assert config["epochs"] == 2 and config["device"] == "auto" and config["dataset"] == "digits"
    rblock = next(r for r in runs if r["arm"] == "rblock_s")["config"]
    assert rblock["arm"] == "rblock_s" and rblock["arm_params"]["drop_prob"] == 0.2
    assert rblock["arm_params"]["pairing"] == "disjoint"  # defaults filled in
    assert pilot["progress"]["epochs_total"] == 8 and pilot["progress"]["runs_by_status"] == {"queued": 4}

    listed = api.client.get(f"{API}/pilots").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == pilot["id"]
    assert listed["items"][0]["progress"]["status"] == "queued"
    detail = api.client.get(f"{API}/pilots/{pilot['id']}").json()
    assert detail["description"] == "ünïcode ✓" and detail["created_by"] == "admin"  # who submitted it
    assert [a["name"] for a in detail["arms"]] == ["none", "rblock_s"] and len(detail["runs"]) == 4
    assert detail["roi"]["price_per_device_hour"] is None and detail["queue"] == "cpu"


def test_progress_counts_epochs_hours_and_cost(api: Api) -> None:
    pilot = create_pilot(api, roi={"price_per_device_hour": 3.0})
    first, second, *_ = (run["id"] for run in pilot["runs"])
    finish(api.store, first, hours=0.5)
    start(api.store, second)
    api.store.heartbeat(run_id=second, epochs_done=1)
    progress = api.client.get(f"{API}/pilots/{pilot['id']}").json()["progress"]
    assert progress["status"] == "running"
    assert progress["runs_by_status"] == {"succeeded": 1, "running": 1, "queued": 2}
    assert progress["device_hours"] == pytest.approx(0.5) and progress["cost"] == pytest.approx(1.5)
    assert progress["epochs_total"] == 8


def test_cost_uses_the_price_of_each_runs_device(sqlite_url: str) -> None:
    prices = {"cpu": 0.1, "cuda": 2.0, "cuda:NVIDIA H100": 4.0}
    with open_api(sqlite_url, price_per_hour=prices) as api:
        pilot = create_pilot(api)
        ids = [run["id"] for run in pilot["runs"]]
        finish(api.store, ids[0], device="cuda:NVIDIA H100", hours=1.0)
        finish(api.store, ids[1], device="cuda:NVIDIA A10", hours=1.0)
        finish(api.store, ids[2], device="cpu", hours=1.0)
        progress = api.client.get(f"{API}/pilots/{pilot['id']}").json()["progress"]
        assert progress["cost"] == pytest.approx(4.0 + 2.0 + 0.1)


def test_auto_queue_picks_gpu_when_a_gpu_worker_is_alive(sqlite_url: str) -> None:
    prices = {"cpu": 0.05, "cuda": 2.5, "cuda:NVIDIA H100": 4.0}
    with open_api(sqlite_url, price_per_hour=prices) as api:
        body = pilot_body(queue="auto", dry_run=True)
        assert api.client.post(f"{API}/pilots", json=body).json()["queue"] == "cpu"
        api.store.worker_seen(name="w1", host="h", device="cuda:NVIDIA H100", queues=["gpu"], current_run_id=None)
        dry = api.client.post(f"{API}/pilots", json=body).json()
        assert dry["queue"] == "gpu" and dry["estimate"]["device_kind"] == "cuda"
        assert dry["estimate"]["price_per_device_hour"] == 4.0  # the live GPU's own price
        created = api.client.post(f"{API}/pilots", json={**body, "dry_run": False}).json()
        assert created["pilot"]["queue"] == "auto"
        assert {run["queue"] for run in created["pilot"]["runs"]} == {"gpu"}
        assert {queue for _, queue in api.queue.sent} == {"gpu"}


def test_estimate_uses_history_when_runs_have_succeeded(api: Api) -> None:
    """Each arm learns from its own regularizer's runs; samples/s are unique samples, pass-samples = × passes."""
    pilot = create_pilot(api)
    none_runs = [run for run in pilot["runs"] if run["arm"] == "none"]
    rblock_run = next(run for run in pilot["runs"] if run["arm"] == "rblock_s")
    for run, speed in zip(none_runs, (1000.0, 3000.0), strict=True):
        finish(api.store, run["id"], samples_per_second=speed)
    finish(api.store, rblock_run["id"], samples_per_second=700.0)
    estimate = api.client.post(f"{API}/pilots", json=pilot_body(dry_run=True)).json()["estimate"]
    assert estimate["basis"] == "history" and estimate["history_runs"] == 3
    none, rblock = estimate["arms"]
    assert none["samples_per_second"] == 2000.0 and rblock["samples_per_second"] == 2 * 700.0
    assert none["device_hours"] == pytest.approx(2 * 2 * 1437 / 2000 / 3600)
    assert rblock["device_hours"] == pytest.approx(2 * 2 * 1437 / 700 / 3600)


def test_budget_cap_is_enforced_with_both_numbers(api: Api) -> None:
    big = pilot_body(dataset="shapes", dataset_params={"n_train": 50_000}, training={"epochs": 100}, budget_cap=0.1)
    response = api.client.post(f"{API}/pilots", json=big)
    assert response.status_code == 422
    message = response.json()["errors"][0]["message"]
    assert response.json()["errors"][0]["field"] == "budget_cap"
    assert "exceeds budget_cap 0.10" in message and "estimated cost" in message and "device-hours" in message
    assert api.queue.sent == [] and api.client.get(f"{API}/pilots").json()["total"] == 0
    ok = api.client.post(f"{API}/pilots", json=pilot_body(budget_cap=100.0))
    assert ok.status_code == 201 and ok.json()["estimate"]["budget_cap"] == 100.0


def test_budget_cap_cannot_be_checked_without_a_data_size(api: Api) -> None:
    body = pilot_body(dataset="imagefolder", dataset_params={"path": "uploads/mine"}, budget_cap=10.0)
    response = api.client.post(f"{API}/pilots", json=body)
    assert response.status_code == 422 and "cannot be checked" in response.json()["detail"]
    dry = api.client.post(f"{API}/pilots", json={**body, "budget_cap": None, "dry_run": True}).json()
    assert dry["estimate"]["basis"] == "unknown" and dry["estimate"]["device_hours"] is None
    assert any("known only from its files" in note for note in dry["estimate"]["notes"])


def test_baseline_defaults_and_explicit_choice(api: Api) -> None:
    arms = [{"regularizer": "dropout"}, {"name": "plain", "regularizer": "none"}]
    assert api.client.post(f"{API}/pilots", json=pilot_body(arms=arms, dry_run=True)).json()["baseline_arm"] == "plain"
    arms = [{"regularizer": "dropout"}, {"regularizer": "rdrop"}]
    assert (
        api.client.post(f"{API}/pilots", json=pilot_body(arms=arms, dry_run=True)).json()["baseline_arm"] == "dropout"
    )
    chosen = pilot_body(arms=arms, baseline_arm="rdrop", dry_run=True)
    assert api.client.post(f"{API}/pilots", json=chosen).json()["baseline_arm"] == "rdrop"


def test_explicit_seed_list(api: Api) -> None:
    pilot = create_pilot(api, seeds=[7, 11, 13])
    assert pilot["seeds"] == [7, 11, 13]
    assert sorted({run["seed"] for run in pilot["runs"]}) == [7, 11, 13]
    assert {run["config"]["seed"] for run in pilot["runs"]} == {7, 11, 13}


BAD_INPUTS: list[tuple[dict[str, Any], str, str]] = [
    ({"dataset": "imagenet"}, "dataset", "allowed: cifar10, cifar100, digits"),
    ({"model": "vgg"}, "model", "allowed: resnet18, small_cnn"),
    ({"dataset_params": {"n_train": 5}}, "dataset_params.n_train", "allowed: image_size"),
    ({"dataset": "shapes", "dataset_params": {"n_train": 5}}, "dataset_params.n_train", "an integer >= 10"),
    ({"dataset": "shapes", "dataset_params": {"difficulty": "hard"}}, "dataset_params.difficulty", "[0, 1]"),
    ({"dataset": "imagefolder"}, "dataset_params.path", "required"),
    ({"width": 0}, "width", "1..1024"),
    ({"width": "16"}, "width", "valid integer"),
    ({"training": {"epochs": 0}}, "training.epochs", "from 1 to 10000"),
    ({"training": {"epochs": 2.5}}, "training.epochs", "from 1 to 10000"),
    ({"training": {"lr": -1}}, "training.lr", "(0, 100]"),
    ({"training": {"optimizer": "adam"}}, "training.optimizer", "one of sgd, adamw"),
    ({"training": {"nesterov": "yes"}}, "training.nesterov", "true or false"),
    ({"training": {"lr_rate": 0.1}}, "training.lr_rate", "allowed: augment, batch_size"),
    ({"training": {"seed": 1}}, "training.seed", "seeds"),
    ({"training": {"epochs": 2, "warmup_epochs": 5}}, "training.warmup_epochs", "less than epochs (2)"),
    ({"training": {"momentum": 0}}, "training.nesterov", "momentum > 0"),
    ({"arms": []}, "arms", "at least 1"),
    ({"arms": [{"regularizer": "cutout"}]}, "arms[0].regularizer", "allowed: dropblock, dropout, none"),
    ({"arms": [{"regularizer": "none", "params": {"drop_prob": 0.1}}]}, "arms[0].params.drop_prob", "allowed: none"),
    ({"arms": [{"regularizer": "dropout", "params": {"drop_prob": 1.0}}]}, "arms[0].params.drop_prob", "< 1"),
    ({"arms": [{"regularizer": "dropblock", "params": {"block_size": 0}}]}, "arms[0].params.block_size", ">= 1"),
    ({"arms": [{"regularizer": "dropout", "params": {"schedule": "cosine"}}]}, "arms[0].params.schedule", "linear"),
    (
        {"arms": [{"regularizer": "rblock_s", "params": {"drop_prob": 0.4}}]},
        "arms[0].params.drop_prob",
        "pairing 'disjoint' on spatial blocks needs drop_prob <= 0.3",
    ),
    (
        {"arms": [{"regularizer": "rblock_b", "params": {"drop_prob": 0.6}}]},
        "arms[0].params.drop_prob",
        "drop_prob <= 0.5",
    ),
    (
        {"arms": [{"regularizer": "rdrop", "params": {"pairing": "complementary", "schedule": "constant"}}]},
        "arms[0].params.drop_prob",
        "drop_prob must be 0.5",
    ),
    (
        {"arms": [{"regularizer": "rdrop", "params": {"pairing": "complementary", "drop_prob": 0.5}}]},
        "arms[0].params.schedule",
        "needs schedule 'constant'",
    ),
    ({"arms": [{"regularizer": "none"}, {"regularizer": "none"}]}, "arms[1].name", "unique"),
    ({"arms": [{"regularizer": "none", "name": ""}]}, "arms[0].name", "at least 1 character"),
    ({"arms": [{"regularizer": "none", "nmae": "x"}]}, "arms[0].nmae", "allowed: name, regularizer, params"),
    ({"baseline_arm": "dropout"}, "baseline_arm", "allowed: none, rblock_s"),
    ({"seeds": 0}, "seeds", "a count from 1 to 50"),
    ({"seeds": 51}, "seeds", "a count from 1 to 50"),
    ({"seeds": [1, 1]}, "seeds", "repeated: 1"),
    ({"seeds": [-1]}, "seeds", "from 0 to 2^31-1"),
    ({"seeds": True}, "seeds", "a count from 1 to 50"),
    ({"queue": "tpu"}, "queue", "'auto', 'gpu' or 'cpu'"),
    ({"roi": {"cost_per_error": -1}}, "roi.cost_per_error", "greater than or equal to 0"),
    ({"roi": {"cost_per_eror": 1}}, "roi.cost_per_eror", "allowed: predictions_per_year, cost_per_error"),
    ({"budget_cap": 0}, "budget_cap", "greater than 0"),
    ({"budget": 10}, "budget", "allowed: name, description, dataset"),
    ({"name": ""}, "name", "at least 1 character"),
    ({"name": "x" * 201}, "name", "at most 200 characters"),
    ({"name": "a\x00b"}, "name", "NUL"),
    ({"dry_run": "true"}, "dry_run", "valid boolean"),
]


@pytest.mark.parametrize(("change", "field", "allowed"), BAD_INPUTS, ids=[case[1] for case in BAD_INPUTS])
def test_bad_input_is_422_naming_the_field_and_what_is_allowed(
    api: Api, change: dict[str, Any], field: str, allowed: str
) -> None:
    response = api.client.post(f"{API}/pilots", json=pilot_body(**change))
    assert response.status_code == 422, response.text
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert field in errors, errors
    assert allowed in errors[field], errors[field]
    assert field in response.json()["detail"]
    assert api.queue.sent == []


def test_all_problems_are_reported_at_once(api: Api) -> None:
    body = pilot_body(
        model="vgg",
        training={"epochs": 0},
        arms=[{"regularizer": "cutout"}, {"regularizer": "dropout", "params": {"drop_prob": 2}}],
    )
    fields = {e["field"] for e in api.client.post(f"{API}/pilots", json=body).json()["errors"]}
    assert fields == {"model", "training.epochs", "arms[0].regularizer", "arms[1].params.drop_prob"}


RAW_BODIES = [
    b"",
    b"null",
    b"[]",
    b'"text"',
    b"{",
    b'{"name": NaN}',
    b'{"name": "p", "dataset": "digits", "arms": [{"regularizer": "none"}], "budget_cap": Infinity}',
    b'{"name": "p", "dataset": "digits", "arms": [{"regularizer": "none"}], "budget_cap": 1e999}',
    b'{"name": "p", "dataset": "digits", "arms": [{"regularizer": "none"}], "seeds": ' + b"9" * 4000 + b"}",
    b'{"name": "p", "dataset": "digits", "arms": [{"regularizer": "none"}], "seeds": ' + b"9" * 5000 + b"}",
    b'{"name": "p", "dataset": "digits", "arms": [{"regularizer": "none"}], "width": ' + b"9" * 300 + b"}",
    b'{"name": "p", "dataset": "digits", "arms": [{"regularizer": "none"}], "training": {"lr": 1e999}}',
    b'{"name": "p", "dataset": "digits", "arms": [{"regularizer": "none"}], "training": {"epochs": 9999999999999999}}',
    b'{"name": "\\ud800", "dataset": "digits", "arms": [{"regularizer": "none"}]}',
    b'{"name": "p", "dataset": "digits\\u0000", "arms": [{"regularizer": "none"}]}',
    b'{"name": "p", "dataset": "imagefolder", "dataset_params": {"path": "\\udfff"}, "arms": [{"regularizer": "x"}]}',
    b'{"name": "p", "dataset": "digits", "dataset_params": {"\\ud800": 1}, "arms": [{"regularizer": "none"}]}',
    b'{"name": "p", "dataset": "digits", "arms": [{"regularizer": "none", "params": []}]}',
    b'{"name": "p", "dataset": "digits", "arms": "none"}',
    b'{"name": "p", "dataset": "digits", "arms": [{"regularizer": "none"}], "roi": null}',
    b'{"name": "p", "dataset": "digits", "arms": [{"regularizer": "none"}], "training": []}',
    b"[" * 5000 + b"]" * 5000,
    '{"name": "日本語 🚀", "dataset": "digits", "arms": [{"regularizer": "ñone"}]}'.encode(),
]


@pytest.mark.parametrize("raw", RAW_BODIES, ids=range(len(RAW_BODIES)))
def test_no_input_gives_a_500(api: Api, raw: bytes) -> None:
    response = api.client.post(f"{API}/pilots", content=raw, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]
    assert api.queue.sent == []


def test_unicode_names_are_kept(api: Api) -> None:
    pilot = create_pilot(api, name="日本語 🚀 <b>", arms=[{"name": "ñ 基线", "regularizer": "none"}], seeds=1)
    assert pilot["name"] == "日本語 🚀 <b>" and pilot["baseline_arm"] == "ñ 基线"


def test_pagination_and_status_filter(api_any: Api) -> None:
    api = api_any
    ids = [create_pilot(api, name=f"p{i}", seeds=1, arms=[{"regularizer": "none"}])["id"] for i in range(5)]
    page = api.client.get(f"{API}/pilots", params={"limit": 2}).json()
    assert page["total"] == 5 and [p["id"] for p in page["items"]] == ids[::-1][:2]
    assert page["offset"] == 0 and page["limit"] == 2
    tail = api.client.get(f"{API}/pilots", params={"offset": 4, "limit": 2}).json()
    assert [p["id"] for p in tail["items"]] == [ids[0]]
    assert api.client.get(f"{API}/pilots", params={"offset": 10}).json()["items"] == []
    run = api.store.list_runs(pilot_id=ids[2])[0]
    finish(api.store, run.id)
    done = api.client.get(f"{API}/pilots", params={"status": "succeeded"}).json()
    assert done["total"] == 1 and done["items"][0]["id"] == ids[2]
    assert api.client.get(f"{API}/pilots", params={"status": "queued"}).json()["total"] == 4


@pytest.mark.parametrize(
    ("params", "field", "allowed"),
    [
        ({"limit": 201}, "limit", "less than or equal to 200"),
        ({"limit": 0}, "limit", "greater than or equal to 1"),
        ({"offset": -1}, "offset", "greater than or equal to 0"),
        ({"offset": "x"}, "offset", "valid integer"),
        ({"offset": "9" * 40}, "offset", "less than or equal to"),
        ({"status": "done"}, "status", "'queued', 'running', 'succeeded', 'failed', 'cancelled' or 'partial'"),
    ],
)
def test_bad_list_parameters_are_422(api: Api, params: dict[str, Any], field: str, allowed: str) -> None:
    response = api.client.get(f"{API}/pilots", params=params)
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == field and allowed in error["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/pilots/999"),
        ("delete", "/pilots/999"),
        ("post", "/pilots/999/cancel"),
        ("get", "/pilots/999/metrics"),
        ("get", f"/pilots/{2**63 - 1}"),
    ],
)
def test_unknown_pilot_is_404(api: Api, method: str, path: str) -> None:
    response = api.client.request(method, f"{API}{path}")
    assert response.status_code == 404 and "does not exist" in response.json()["detail"]


@pytest.mark.parametrize("pilot_id", ["0", "-3", "abc", "1.5", "9" * 30])
def test_bad_pilot_id_is_422(api: Api, pilot_id: str) -> None:
    response = api.client.get(f"{API}/pilots/{pilot_id}")
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "pilot_id"


def test_cancel_a_pilot_then_delete_it(api_any: Api) -> None:
    api = api_any
    pilot = create_pilot(api)
    ids = [run["id"] for run in pilot["runs"]]
    finish(api.store, ids[0])
    start(api.store, ids[1])
    conflict = api.client.delete(f"{API}/pilots/{pilot['id']}")
    assert conflict.status_code == 409 and "active run" in conflict.json()["detail"]

    changed = api.client.post(f"{API}/pilots/{pilot['id']}/cancel").json()["changed"]
    assert {run["id"]: run["status"] for run in changed} == {
        ids[1]: "cancelling",
        ids[2]: "cancelled",
        ids[3]: "cancelled",
    }
    assert api.client.post(f"{API}/pilots/{pilot['id']}/cancel").json()["changed"] == []
    assert api.client.delete(f"{API}/pilots/{pilot['id']}").status_code == 409  # still cancelling

    assert api.store.heartbeat(run_id=ids[1]) is True  # the worker sees the flag and stops
    api.store.finish_run(run_id=ids[1], status=RunStatus.CANCELLED)
    assert api.client.delete(f"{API}/pilots/{pilot['id']}").status_code == 204
    assert api.client.get(f"{API}/pilots/{pilot['id']}").status_code == 404
    assert api.client.get(f"{API}/runs/{ids[0]}").status_code == 404


def test_broker_down_fails_the_runs_and_says_so(api: Api) -> None:
    api.queue.fail = True
    response = api.client.post(f"{API}/pilots", json=pilot_body())
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert "was saved but its runs could not be queued" in detail and "connection refused" in detail
    pilot = api.client.get(f"{API}/pilots").json()["items"][0]
    runs = api.client.get(f"{API}/pilots/{pilot['id']}").json()["runs"]
    assert {run["status"] for run in runs} == {"failed"}
    assert all("could not be queued" in run["error"] for run in runs)
    # Once the broker is back, each run can be retried.
    api.queue.fail = False
    retried = api.client.post(f"{API}/runs/{runs[0]['id']}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "queued"
    assert api.queue.sent == [(runs[0]["id"], "cpu")]


def test_pilot_metrics_long_format(api: Api) -> None:
    pilot = create_pilot(api)
    ids = [run["id"] for run in pilot["runs"]]
    finish(api.store, ids[0], points=[("test_acc", 0, 0.5), ("test_acc", 1, 0.75), ("train_loss", 0, 1.25)])
    finish(api.store, ids[1], points=[("test_acc", 0, math.nan), ("test_acc", 1, 0.5)])
    body = api.client.get(f"{API}/pilots/{pilot['id']}/metrics", params={"format": "rows", "keys": "test_acc"}).json()
    assert body["points"] == [
        {"run_id": ids[0], "key": "test_acc", "epoch": 0, "value": 0.5, "nonfinite": None},
        {"run_id": ids[0], "key": "test_acc", "epoch": 1, "value": 0.75, "nonfinite": None},
        {"run_id": ids[1], "key": "test_acc", "epoch": 0, "value": None, "nonfinite": "NaN"},
        {"run_id": ids[1], "key": "test_acc", "epoch": 1, "value": 0.5, "nonfinite": None},
    ]
    everything = api.client.get(f"{API}/pilots/{pilot['id']}/metrics", params={"format": "rows"}).json()["points"]
    assert len(everything) == 5


def test_openapi_documents_every_route(api: Api) -> None:
    spec = api.client.get(f"{API}/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/v1/pilots",
        "/api/v1/pilots/{pilot_id}",
        "/api/v1/pilots/{pilot_id}/cancel",
        "/api/v1/pilots/{pilot_id}/metrics",
        "/api/v1/runs/{run_id}",
        "/api/v1/runs/{run_id}/cancel",
        "/api/v1/runs/{run_id}/retry",
        "/api/v1/runs/{run_id}/metrics",
        "/api/v1/catalog",
        "/api/v1/catalog/arms",
        "/api/v1/workers",
        "/api/v1/health",
    ):
        assert path in paths, path
    create = paths["/api/v1/pilots"]["post"]
    assert create["summary"].startswith("Create a pilot")
    assert {"200", "201", "422", "503"} <= set(create["responses"])
    assert "ErrorOut" in str(create["responses"]["422"])


def test_the_list_shows_the_money_spent_so_far(api: Api) -> None:
    pilot = create_pilot(api)
    finish(api.store, pilot["runs"][0]["id"], device="cpu", hours=0.5)
    finish(api.store, pilot["runs"][1]["id"], device="cuda:NVIDIA H100", hours=0.25)
    listed = next(p for p in api.client.get(f"{API}/pilots").json()["items"] if p["id"] == pilot["id"])
    detail = api.client.get(f"{API}/pilots/{pilot['id']}").json()
    expected = 0.5 * api.settings.price_for("cpu") + 0.25 * api.settings.price_for("cuda:NVIDIA H100")  # type: ignore[operator]
    assert listed["progress"]["cost"] == pytest.approx(expected)
    assert detail["progress"]["cost"] == pytest.approx(expected)
