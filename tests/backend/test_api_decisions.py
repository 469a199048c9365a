"""The decision record through the API (issue 11 §5): who may decide, validation, the provisional mark, the
snapshot and its hash, newest first, the latest decision in the pilots list, and no way to change one."""

from __future__ import annotations

from typing import Any

from backend.store.decisions import summary_sha256
from tests.support.api import API, Api, create_pilot, finish


def decide(api: Api, pilot_id: int, headers: dict[str, str] | None = None, **body: Any) -> Any:
    payload = {"decision": "adopt", "arm": "rblock_s", "note": "cheaper than the errors", **body}
    return api.client.post(f"{API}/pilots/{pilot_id}/decision", json=payload, headers=headers or {})


def test_managers_and_admins_decide_engineers_and_strangers_may_not(api: Api) -> None:
    pilot = create_pilot(api)["id"]
    viewer, engineer = api.as_user("vera", "viewer"), api.as_user("ed", "engineer")
    made = decide(api, pilot, viewer)
    assert made.status_code == 201, made.text
    assert made.json()["decided_by"] == "vera" and made.json()["decision"] == "adopt"
    assert decide(api, pilot).status_code == 201  # the admin
    refused = decide(api, pilot, engineer)
    assert refused.status_code == 403
    assert "decide permission (admin, viewer)" in refused.json()["detail"]
    assert decide(api, pilot, {"Authorization": ""}).status_code == 401
    # Everybody who may read sees the record.
    listed = api.client.get(f"{API}/pilots/{pilot}/decisions", headers=engineer)
    assert listed.status_code == 200 and [d["decided_by"] for d in listed.json()["decisions"]] == ["admin", "vera"]


def test_bad_decisions_get_422s_that_say_what_to_fix(api: Api) -> None:
    pilot = create_pilot(api)["id"]

    def error(**body: Any) -> dict[str, str]:
        response = decide(api, pilot, **body)
        assert response.status_code == 422, response.text
        return {e["field"]: e["message"] for e in response.json()["errors"]}

    assert "choose one of none, rblock_s" in error(arm="dropblock")["arm"]
    assert "'adopt', 'reject' or 'defer'" in error(decision="approve")["decision"]
    assert "at most 2000 characters" in error(note="x" * 2001)["note"]
    assert "NUL" in error(note="a\x00b")["note"]
    assert error(arm="")["arm"]
    assert "unknown field" in error(verdict="adopt")["verdict"]
    assert decide(api, pilot, note="x" * 2000).status_code == 201
    assert decide(api, 999).status_code == 404
    assert api.client.get(f"{API}/pilots/999/decisions").status_code == 404
    assert api.client.get(f"{API}/pilots/{pilot}/decisions/999").status_code == 404


def test_snapshot_hash_recomputes_and_the_provisional_mark_follows_the_runs(api: Api) -> None:
    pilot = create_pilot(api)
    early = decide(api, pilot["id"], decision="defer", arm="none").json()
    assert early["provisional"] is True
    for run in pilot["runs"]:
        finish(api.store, run["id"], points=[("test_acc", 1, 0.9)])
    summary = api.client.get(f"{API}/pilots/{pilot['id']}/summary", params={"curves": "none"}).json()
    late = decide(api, pilot["id"], decision="reject", note="not worth the cost").json()
    assert late["provisional"] is False
    history = api.client.get(f"{API}/pilots/{pilot['id']}/decisions").json()["decisions"]
    assert [d["id"] for d in history] == [late["id"], early["id"]]
    assert [d["provisional"] for d in history] == [False, True] and "summary" not in history[0]
    for made in (early, late):
        one = api.client.get(f"{API}/pilots/{pilot['id']}/decisions/{made['id']}").json()
        assert {k: one[k] for k in made} == made
        assert summary_sha256(one["summary"]) == one["summary_sha256"]  # recomputed from the snapshot
        assert one["summary"]["provisional"] is made["provisional"]
    # The later snapshot is the summary the endpoint served, without curves.
    late_snapshot = api.client.get(f"{API}/pilots/{pilot['id']}/decisions/{late['id']}").json()["summary"]
    assert late_snapshot == summary and summary_sha256(summary) == late["summary_sha256"]
    assert early["summary_sha256"] != late["summary_sha256"]


def test_the_pilots_list_carries_each_pilots_latest_decision(api: Api) -> None:
    first, second = create_pilot(api)["id"], create_pilot(api)["id"]
    decide(api, first, decision="defer")
    latest = decide(api, first, decision="reject", arm="none").json()
    items = {p["id"]: p for p in api.client.get(f"{API}/pilots").json()["items"]}
    assert items[first]["latest_decision"] == latest and items[second]["latest_decision"] is None


def test_a_decision_cannot_be_changed_or_deleted(api: Api) -> None:
    pilot = create_pilot(api)["id"]
    made = decide(api, pilot).json()
    url = f"{API}/pilots/{pilot}/decisions/{made['id']}"
    for method in ("PUT", "PATCH", "DELETE"):
        assert api.client.request(method, url, json={"decision": "reject"}).status_code == 405
        assert api.client.request(method, f"{API}/pilots/{pilot}/decision").status_code == 405
    paths = api.client.get(f"{API}/openapi.json").json()["paths"]
    assert {m for path, ops in paths.items() if "decision" in path for m in ops} == {"get", "post"}
    assert api.client.get(url).json()["decision"] == "adopt"
