"""Seed-by-seed queueing and extending a pilot in place (POST /pilots/{id}/extend), on the real store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.dispatch import resend_lost
from backend.queue import QueueClient
from backend.settings import Settings
from backend.store import RunStatus, Store
from tests.support.api import (
    ADMIN,
    API,
    Api,
    add_user,
    bearer,
    create_pilot,
    finish,
    pilot_body,
    start,
)
from tests.support.broker import received

THREE_ARMS = [{"regularizer": "none"}, {"regularizer": "dropout"}, {"regularizer": "rblock_s"}]


def _finish_all(api: Api, pilot_id: int, hours: float = 0.5) -> None:
    for run in api.store.list_runs(pilot_id=pilot_id):
        if run.status == RunStatus.QUEUED:
            finish(api.store, run.id, hours=hours, points=[("test_acc", 1, 0.9)])


def _order(store: Store, pilot_id: int, ids: list[int]) -> list[tuple[int, str]]:
    by_id = {run.id: (run.seed, run.arm) for run in store.list_runs(pilot_id=pilot_id)}
    return [by_id[i] for i in ids]


def test_the_broker_receives_a_pilot_seed_by_seed(tmp_path: Path, sqlite_url: str) -> None:
    """Every arm of seed 0, then of seed 1, ...: on the embedded broker, as a worker reads the queue."""
    settings = Settings(
        database_url=sqlite_url, broker_url=f"sqla+sqlite:///{tmp_path}/broker.db", reconcile_every_s=3600.0
    )
    store, queue = Store(sqlite_url), QueueClient(settings)
    try:
        with TestClient(create_app(settings, store=store, queue=queue)) as client:
            client.headers.update(bearer(add_user(store, ADMIN, "admin")))
            body = {"name": "order", "dataset": "digits", "training": {"epochs": 1}, "arms": THREE_ARMS}
            pilot = client.post(f"{API}/pilots", json={**body, "seeds": 3, "queue": "cpu"}).json()["pilot"]
            sent = [args[0] for _task, args in received(queue, "cpu")]
            arms = ["none", "dropout", "rblock_s"]
            assert _order(store, pilot["id"], sent) == [(seed, arm) for seed in range(3) for arm in arms]
            # An extension too: the new arm on the old seeds first, then every arm on each new seed.
            extended = client.post(
                f"{API}/pilots/{pilot['id']}/extend", json={"seeds": 2, "arms": [{"regularizer": "rdrop"}]}
            )
            assert extended.status_code == 201, extended.text
            sent = [args[0] for _task, args in received(queue, "cpu")]
            assert sent == [run["id"] for run in extended.json()["runs"]]
            expected = [(s, "rdrop") for s in range(3)] + [(s, a) for s in (3, 4) for a in [*arms, "rdrop"]]
            assert _order(store, pilot["id"], sent) == expected
    finally:
        queue.close()
        store.dispose()


def test_the_reconciler_resends_lost_runs_seed_by_seed(api: Api) -> None:
    create_pilot(api, arms=THREE_ARMS, seeds=2)
    api.queue.sent.clear()
    # The broker lost everything (depth 0): every queued run is sent again, least recently sent first.
    resent = resend_lost(store=api.store, queue=api.queue, sent_before_s=0.0)
    assert [(r.seed, r.arm) for r in resent] == [(s, a) for s in (0, 1) for a in ("none", "dropout", "rblock_s")]
    assert [run_id for run_id, _ in api.queue.sent] == [r.id for r in resent]


def test_extend_by_seeds_then_arms_and_the_summary_grows(api_any: Api) -> None:
    api = api_any
    pilot = create_pilot(api)  # none and rblock_s, seeds 0 and 1
    _finish_all(api, pilot["id"])
    summary = api.client.get(f"{API}/pilots/{pilot['id']}/summary?curves=none").json()
    assert {a["arm"]: a["test_acc"]["n"] for a in summary["arms"]} == {"none": 2, "rblock_s": 2}

    response = api.client.post(f"{API}/pilots/{pilot['id']}/extend", json={"seeds": 2})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["seeds"] == [2, 3] and body["arms"] == [] and body["queue"] == "cpu"
    assert [(r["seed"], r["arm"]) for r in body["runs"]] == [(2, "none"), (2, "rblock_s"), (3, "none"), (3, "rblock_s")]
    assert all(r["status"] == "queued" for r in body["runs"])
    assert body["estimate"]["runs"] == 4 and body["total"]["existing_runs"] == 4
    assert body["total"]["existing_device_hours"] == pytest.approx(4 * 0.5)  # measured
    # The new runs' configs differ from the old ones' only by their seed.
    old = {(r.arm, r.seed): r.config for r in api.store.list_runs(pilot_id=pilot["id"])}
    assert old[("rblock_s", 3)] == {**old[("rblock_s", 0)], "seed": 3}
    assert api.client.get(f"{API}/pilots/{pilot['id']}").json()["seeds"] == [0, 1, 2, 3]

    arms = api.client.post(f"{API}/pilots/{pilot['id']}/extend", json={"arms": [{"regularizer": "dropout"}]})
    assert arms.status_code == 201, arms.text
    assert [(r["seed"], r["arm"]) for r in arms.json()["runs"]] == [(s, "dropout") for s in range(4)]
    _finish_all(api, pilot["id"])
    summary = api.client.get(f"{API}/pilots/{pilot['id']}/summary?curves=none").json()
    assert {a["arm"]: a["test_acc"]["n"] for a in summary["arms"]} == {"none": 4, "rblock_s": 4, "dropout": 4}
    assert {c["arm"] for c in summary["comparisons"]} == {"rblock_s", "dropout"}
    detail = api.client.get(f"{API}/pilots/{pilot['id']}").json()
    assert [a["name"] for a in detail["arms"]] == ["none", "rblock_s", "dropout"] and len(detail["runs"]) == 12


def test_a_dry_run_estimates_and_queues_nothing(api: Api) -> None:
    pilot = create_pilot(api)
    api.queue.sent.clear()
    response = api.client.post(
        f"{API}/pilots/{pilot['id']}/extend", json={"seeds": 1, "arms": [{"regularizer": "rdrop"}], "dry_run": True}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # 2 old arms × 1 new seed, and the new arm × 3 seeds
    assert body["dry_run"] and body["runs"] == [] and body["estimate"]["runs"] == 5
    assert [a["arm"] for a in body["estimate"]["arms"]] == ["none", "rblock_s", "rdrop"]
    assert [a["runs"] for a in body["estimate"]["arms"]] == [1, 1, 3]
    assert body["seeds"] == [2] and body["arms"] == ["rdrop"]
    assert api.queue.sent == [] and len(api.store.list_runs(pilot_id=pilot["id"])) == 4
    assert api.store.get_pilot(pilot_id=pilot["id"]).seeds == [0, 1]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "body", 'ask for "seeds"'),
        ({"seeds": None, "arms": []}, "body", 'ask for "seeds"'),
        ({"seeds": 0}, "seeds", "greater than or equal to 1"),
        ({"seeds": 49}, "seeds", "has 2 seeds and a pilot has at most 50: ask for at most 48"),
        ({"seeds": "2"}, "seeds", "integer"),
        ({"arms": [{"regularizer": "none"}]}, "arms[0].name", "already the name of an arm of the pilot"),
        (
            {"arms": [{"regularizer": "dropout"}, {"regularizer": "dropout"}]},
            "arms[1].name",
            "already the name of an arm of this request (arms[0])",
        ),
        ({"arms": [{"regularizer": "dropout", "params": {"drop_prob": 2}}]}, "arms[0].params.drop_prob", "must be"),
        ({"arms": [{"regularizer": "nope"}]}, "arms[0].regularizer", "unknown regularizer"),
        ({"seeds": 1, "colour": "red"}, "colour", "unknown field"),
    ],
)
def test_bad_extensions_are_422_naming_the_field(api: Api, body: dict[str, Any], field: str, words: str) -> None:
    pilot = create_pilot(api)
    response = api.client.post(f"{API}/pilots/{pilot['id']}/extend", json=body)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert any(e["field"] == field and words in e["message"] for e in errors), errors
    assert len(api.store.list_runs(pilot_id=pilot["id"])) == 4


def test_unknown_foreign_and_impossible_pilots(api: Api) -> None:
    assert api.client.post(f"{API}/pilots/999/extend", json={"seeds": 1}).status_code == 404
    pilot = create_pilot(api)
    other = api.client.post(f"{API}/pilots/{pilot['id']}/extend", json={"seeds": 1}, headers=api.as_user("eve"))
    assert other.status_code == 403 and "only its owner or an admin" in other.json()["detail"]
    viewer = api.client.post(
        f"{API}/pilots/{pilot['id']}/extend", json={"seeds": 1}, headers=api.as_user("vic", "viewer")
    )
    assert viewer.status_code == 403
    # A pilot being cancelled may not be extended (409).
    run_id = pilot["runs"][0]["id"]
    start(api.store, run_id)
    api.store.request_cancel(run_id=run_id)
    conflict = api.client.post(f"{API}/pilots/{pilot['id']}/extend", json={"seeds": 1})
    assert conflict.status_code == 409 and "being cancelled" in conflict.json()["detail"]


def test_the_owner_may_extend(api: Api) -> None:
    owner = api.as_user("olga")
    created = api.client.post(f"{API}/pilots", json=pilot_body(), headers=owner)
    assert created.status_code == 201, created.text
    pilot_id = created.json()["pilot"]["id"]
    response = api.client.post(f"{API}/pilots/{pilot_id}/extend", json={"seeds": 1}, headers=owner)
    assert response.status_code == 201, response.text


def test_the_budget_cap_is_on_the_pilots_total(api: Api) -> None:
    pilot = create_pilot(api, budget_cap=2.801, roi={"price_per_device_hour": 1.0})
    _finish_all(api, pilot["id"], hours=0.7)  # 4 runs: 2.8 measured, just under the cap
    response = api.client.post(f"{API}/pilots/{pilot['id']}/extend", json={"seeds": 1})
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["field"] == "budget_cap" and "the cap applies to the pilot's total" in error["message"]
    assert "2.80 measured or estimated for its 4 existing runs" in error["message"]
    assert "exceeds budget_cap 2.80" in error["message"]
    raised = api.client.post(f"{API}/pilots/{pilot['id']}/extend", json={"seeds": 1, "budget_cap": 10.0})
    assert raised.status_code == 201, raised.text
    total = raised.json()["total"]
    assert total["budget_cap"] == 10.0 and total["existing_cost"] == pytest.approx(2.8)
    assert total["cost"] == pytest.approx(2.8 + raised.json()["estimate"]["cost"])
    assert api.store.get_pilot(pilot_id=pilot["id"]).budget_cap == 10.0


def test_queued_runs_count_at_their_estimate(api: Api) -> None:
    pilot = create_pilot(api, roi={"price_per_device_hour": 2.0})
    dry = api.client.post(f"{API}/pilots/{pilot['id']}/extend", json={"seeds": 2, "dry_run": True}).json()
    # Nothing has run: the existing runs are estimated like the new ones (same arms, same number of runs).
    assert dry["total"]["existing_device_hours"] == pytest.approx(dry["estimate"]["device_hours"])
    assert dry["total"]["cost"] == pytest.approx(2 * dry["estimate"]["cost"])
