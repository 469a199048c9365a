"""The summary cache (backend/summary_cache.py) never serves a stale summary, with two API processes on one
database: every kind of change a summary reads bumps the pilot's version in its own transaction."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from backend.analysis.service import analyse_pilot
from backend.app import create_app
from backend.store import RunStatus, Store
from backend.summary_cache import SummaryCache, encode
from tests.support.api import (
    API,
    Api,
    RecordingQueue,
    bearer,
    create_pilot,
    finish,
    open_api,
    pilot_body,
    start,
)


@contextmanager
def second_app(api: Api) -> Iterator[TestClient]:
    """Another API process on the same database: its own store, queue and cache; the admin's token."""
    store = Store(api.settings.database_url)
    app = create_app(api.settings, store=store, queue=RecordingQueue(store=store))
    try:
        with TestClient(app) as client:
            client.headers.update(bearer(api.tokens["admin"]))
            yield client
    finally:
        store.dispose()


def _fresh(api: Api, pilot_id: int, curves: list[str] | None) -> Any:
    """The summary as built now from the database, bypassing every cache, as the API would send it."""
    return json.loads(encode(analyse_pilot(api.store, pilot_id, api.settings.price_per_hour, curves)))


def _seen(client: TestClient, pilot_id: int, curves: str) -> Any:
    response = client.get(f"{API}/pilots/{pilot_id}/summary", params={"curves": curves})
    assert response.status_code == 200, response.text
    return response.json()


Change = Callable[[Api, TestClient, int], None]


def _points(api: Api, _: TestClient, pilot_id: int) -> None:
    run = api.store.list_runs(pilot_id=pilot_id)[0]
    epoch = len(api.store.get_points(run_ids=[run.id], keys=["test_acc"]))
    api.store.write_points(run_id=run.id, points=[("test_acc", epoch, 0.5 + epoch / 100), ("drop_rate", epoch, 0.1)])


def _claim(api: Api, _: TestClient, pilot_id: int) -> None:
    queued = [r for r in api.store.list_runs(pilot_id=pilot_id) if r.status == RunStatus.QUEUED]
    start(api.store, queued[0].id)


def _finish(api: Api, _: TestClient, pilot_id: int) -> None:
    queued = [r for r in api.store.list_runs(pilot_id=pilot_id) if r.status == RunStatus.QUEUED]
    finish(api.store, queued[0].id, points=[("test_acc", 0, 0.8), ("test_acc", 1, 0.9)])


def _cancel_run(api: Api, other: TestClient, pilot_id: int) -> None:
    queued = [r for r in api.store.list_runs(pilot_id=pilot_id) if r.status == RunStatus.QUEUED]
    assert other.post(f"{API}/runs/{queued[0].id}/cancel").status_code == 200


def _retry(api: Api, other: TestClient, pilot_id: int) -> None:
    cancelled = [r for r in api.store.list_runs(pilot_id=pilot_id) if r.status == RunStatus.CANCELLED]
    assert other.post(f"{API}/runs/{cancelled[0].id}/retry").status_code == 200


def _requeue_stale(api: Api, _: TestClient, pilot_id: int) -> None:
    queued = [r for r in api.store.list_runs(pilot_id=pilot_id) if r.status == RunStatus.QUEUED]
    start(api.store, queued[0].id)
    requeued, _failed = api.store.requeue_stale(stale_after_s=-1.0, max_attempts=5)
    assert requeued


def _roi(_: Api, other: TestClient, pilot_id: int) -> None:
    inputs = {"predictions_per_year": 1e6, "cost_per_error": 0.5, "retrains_per_year": 7}
    assert other.put(f"{API}/pilots/{pilot_id}/roi", json=inputs).status_code == 200, "roi"


def _extend(_: Api, other: TestClient, pilot_id: int) -> None:
    response = other.post(f"{API}/pilots/{pilot_id}/extend", json={"seeds": 1})
    assert response.status_code in (200, 201), response.text


def _decide(_: Api, other: TestClient, pilot_id: int) -> None:
    payload = {"decision": "defer", "arm": "rblock_s", "note": "wait for more seeds"}
    assert other.post(f"{API}/pilots/{pilot_id}/decision", json=payload).status_code == 201


def _cancel_pilot(_: Api, other: TestClient, pilot_id: int) -> None:
    assert other.post(f"{API}/pilots/{pilot_id}/cancel").status_code == 200


CHANGES: dict[str, Change] = {
    "points": _points,
    "claim": _claim,
    "finish": _finish,
    "cancel a run": _cancel_run,
    "retry": _retry,
    "requeue stale": _requeue_stale,
    "roi inputs": _roi,
    "extension": _extend,
    "decision": _decide,
    "cancel the pilot": _cancel_pilot,
}


def test_no_stale_summary_after_any_change_with_two_processes(database_url: str) -> None:
    with open_api(database_url) as api, second_app(api) as other:
        pilot_id = create_pilot(api, seeds=3)["id"]
        finish(api.store, api.store.list_runs(pilot_id=pilot_id)[0].id, points=[("test_acc", 0, 0.7)])
        versions = [api.store.versions.of(pilot_id=pilot_id)]
        for name, change in CHANGES.items():
            for curves in ("none", "all", "test_acc"):  # both caches warm, for every argument
                _seen(api.client, pilot_id, curves), _seen(other, pilot_id, curves)
            change(api, other, pilot_id)
            versions.append(api.store.versions.of(pilot_id=pilot_id))
            assert versions[-1] is not None and versions[-2] is not None
            assert versions[-1][0] > versions[-2][0], f"{name} did not bump the pilot's version"
            for curves, keys in (("none", []), ("all", None), ("test_acc", ["test_acc"])):
                expected = _fresh(api, pilot_id, keys)
                assert _seen(api.client, pilot_id, curves) == expected, f"process A stale after {name} ({curves})"
                assert _seen(other, pilot_id, curves) == expected, f"process B stale after {name} ({curves})"
        cache: SummaryCache = api.client.app.state.summary_cache  # type: ignore[attr-defined]
        assert cache.hits > 0 and cache.misses > 0


def test_a_sequential_stop_bumps_the_version(sqlite_url: str) -> None:
    with open_api(sqlite_url) as api, second_app(api) as other:
        pilot = api.client.post(f"{API}/pilots", json=pilot_body(sequential={"max_seeds": 6, "round": 2})).json()
        pilot_id = pilot["pilot"]["id"]
        _seen(other, pilot_id, "none")
        before = api.store.versions.of(pilot_id=pilot_id)
        stored = api.store.get_pilot(pilot_id=pilot_id)
        assert stored.sequential is not None and before is not None
        state = {**stored.sequential, "max_seeds": 2}  # the look that ends it: no seeds left to add
        api.store.extensions.stop_sequential(pilot_id=pilot_id, expect_seeds=stored.seeds, sequential=state)
        after = api.store.versions.of(pilot_id=pilot_id)
        assert after is not None and after[0] > before[0]
        assert _seen(other, pilot_id, "none") == _fresh(api, pilot_id, [])


def test_unknown_pilots_are_404_and_the_figures_use_the_cache(api: Api) -> None:
    assert api.client.get(f"{API}/pilots/999/summary").status_code == 404
    pilot_id = create_pilot(api)["id"]
    assert api.client.get(f"{API}/pilots/{pilot_id}/figures/cost_per_run").status_code == 200
    assert api.client.get(f"{API}/pilots/{pilot_id}/figures/cost_per_run").status_code == 200
    cache: SummaryCache = api.client.app.state.summary_cache  # type: ignore[attr-defined]
    assert cache.hits >= 1


def test_a_summary_asked_for_by_many_threads_at_once_is_built_once(api: Api) -> None:
    pilot_id = create_pilot(api)["id"]
    cache, barrier = SummaryCache(), threading.Barrier(8)

    def ask() -> bytes:
        barrier.wait()
        return cache.get(api.store, pilot_id, api.settings.price_per_hour, None).json

    with ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(lambda _: ask(), range(8)))
    assert cache.misses == 1 and cache.hits == 7 and len(set(bodies)) == 1
    assert json.loads(bodies[0]) == _fresh(api, pilot_id, None)


def _etag(client: TestClient, pilot_id: int, sent: str | None = None) -> tuple[int, str]:
    headers = {"If-None-Match": sent} if sent else {}
    response = client.get(f"{API}/pilots/{pilot_id}/summary", params={"curves": "none"}, headers=headers)
    assert response.status_code in (200, 304), response.text
    assert response.headers["cache-control"] == "private, no-cache"
    return response.status_code, response.headers["etag"]


def test_the_etag_answers_304_in_every_process_until_any_change(database_url: str) -> None:
    with open_api(database_url) as api, second_app(api) as other:
        pilot_id = create_pilot(api, seeds=3)["id"]
        finish(api.store, api.store.list_runs(pilot_id=pilot_id)[0].id, points=[("test_acc", 0, 0.7)])
        for name, change in CHANGES.items():
            status, etag = _etag(api.client, pilot_id)
            assert status == 200
            # The same state has the same tag in both processes, and either answers 304 for it.
            assert _etag(other, pilot_id) == (200, etag)
            assert _etag(api.client, pilot_id, etag) == (304, etag)
            assert _etag(other, pilot_id, f'W/{etag}, "something-else"') == (304, etag)
            change(api, other, pilot_id)
            for client in (api.client, other):
                status, newer = _etag(client, pilot_id, etag)
                assert status == 200 and newer != etag, f"304 for a stale summary after {name}"
        # Another view of the summary (other curves) is another representation: another tag.
        all_curves = api.client.get(f"{API}/pilots/{pilot_id}/summary").headers["etag"]
        assert all_curves != _etag(api.client, pilot_id)[1]
        assert api.client.get(f"{API}/pilots/999/summary", headers={"If-None-Match": "*"}).status_code == 404
