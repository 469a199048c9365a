"""The page cache (frontend/page_cache.py): a repeated pilot page or pilots page is served from the cache while the
pilots are unchanged, and never older than the database, with two processes on one database; each viewer has
their own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from fastapi.testclient import TestClient

from backend.store import Store
from frontend.page_cache import PageCache
from pilot_cli.webapp import create_app
from tests.support.api import ADMIN, API, PASSWORD, Api, RecordingQueue, add_user, bearer, create_pilot, finish, start
from tests.support.site import open_site


@contextmanager
def second_site(site: Api) -> Iterator[TestClient]:
    """Another server process on the same database (its own store and caches), with the admin's token."""
    store = Store(site.settings.database_url)
    try:
        with TestClient(create_app(site.settings, store=store, queue=RecordingQueue(store=store))) as client:
            client.headers.update(bearer(site.tokens[ADMIN]))
            yield client
    finally:
        store.dispose()


def _cache(client: TestClient) -> PageCache:
    cache: PageCache = client.app.state.pilot_page_cache  # type: ignore[attr-defined]
    return cache


def _page(client: TestClient, pilot_id: int) -> str:
    response = client.get(f"/pilots/{pilot_id}")
    assert response.status_code == 200, response.text
    return response.text


def test_the_page_is_cached_until_the_pilot_changes_in_any_process(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site, second_site(site) as other:
        pilot_id = create_pilot(site, seeds=2)["id"]
        runs = site.store.list_runs(pilot_id=pilot_id)
        first = _page(site.client, pilot_id)
        assert _page(site.client, pilot_id) == first and _cache(site.client).hits == 1
        _page(other, pilot_id)  # the other process's cache is warm too

        # A run starts (the worker's write): both processes show it at once.
        start(site.store, runs[0].id)
        for client in (site.client, other):
            assert f'data-run="{runs[0].id}">running<' in _page(client, pilot_id)

        # A decision through the other process: this process's cached page is not served any more.
        decision = {"decision": "defer", "arm": "rblock_s", "note": "a note to find on the page"}
        assert other.post(f"{API}/pilots/{pilot_id}/decision", json=decision).status_code == 201
        assert "a note to find on the page" in _page(site.client, pilot_id)

        # New ROI inputs through this process: the other one shows them in the form.
        roi = {"predictions_per_year": 1e6, "cost_per_error": 0.25, "retrains_per_year": 7}
        assert site.client.put(f"{API}/pilots/{pilot_id}/roi", json=roi).status_code == 200
        assert 'name="cost_per_error" type="number" min="0" step="any" inputmode="decimal" value="0.25"' in _page(
            other, pilot_id
        )

        finish(site.store, runs[1].id, points=[("test_acc", 0, 0.8)])
        for client in (site.client, other):
            assert f'data-run="{runs[1].id}">succeeded<' in _page(client, pilot_id)
        hits = _cache(site.client).hits
        assert _page(site.client, pilot_id) == _page(site.client, pilot_id)
        assert _cache(site.client).hits == hits + 2


def test_each_viewer_has_their_own_page_and_unknown_pilots_are_404(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        pilot_id = create_pilot(site)["id"]
        viewer = bearer(add_user(site.store, "mona", "viewer"))
        as_admin = _page(site.client, pilot_id)
        as_viewer = site.client.get(f"/pilots/{pilot_id}", headers=viewer).text
        assert 'href="/users"' in as_admin and 'href="/users"' not in as_viewer
        assert ">mona<" in as_viewer and ">mona<" not in as_admin
        assert site.client.get(f"/pilots/{pilot_id}", headers=viewer).text == as_viewer
        for _ in range(2):
            missing = site.client.get("/pilots/999")
            assert missing.status_code == 404 and "does not exist" in missing.text


def test_the_pilots_page_is_cached_until_any_pilot_changes(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site, second_site(site) as other:
        first = create_pilot(site, name="the first pilot")["id"]
        page = site.client.get("/").text
        assert "the first pilot" in page and site.client.get("/").text == page
        assert _cache(site.client).hits == 1
        other.get("/")
        # A new pilot, a run of another pilot starting, a deletion: each shows at once in both processes.
        second = create_pilot(site, name="the second pilot")["id"]
        for client in (site.client, other):
            assert "the second pilot" in client.get("/").text
        for client in (site.client, other):
            assert "the first pilot" not in client.get("/", params={"status": "running"}).text
        start(site.store, site.store.list_runs(pilot_id=first)[0].id)
        for client in (site.client, other):
            assert "the first pilot" in client.get("/", params={"status": "running"}).text
        assert other.post(f"{API}/pilots/{second}/cancel").status_code == 200
        assert other.delete(f"{API}/pilots/{second}").status_code == 204
        for client in (site.client, other):
            assert "the second pilot" not in client.get("/").text
        # The htmx fragment of the rows is another page than the whole page.
        rows = site.client.get("/", headers={"HX-Request": "true"}).text
        assert "<html" not in rows and "the first pilot" in rows


def test_the_pilots_list_answers_304_until_a_change(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        pilot_id = create_pilot(site)["id"]
        answer = site.client.get(f"{API}/pilots")
        etag = answer.headers["etag"]
        assert answer.headers["cache-control"] == "private, no-cache"
        assert site.client.get(f"{API}/pilots", headers={"If-None-Match": etag}).status_code == 304
        # Another query is another answer, with another tag.
        assert site.client.get(f"{API}/pilots", params={"limit": 5}).headers["etag"] != etag
        start(site.store, site.store.list_runs(pilot_id=pilot_id)[0].id)
        again = site.client.get(f"{API}/pilots", headers={"If-None-Match": etag})
        assert again.status_code == 200 and again.headers["etag"] != etag


def test_an_entry_expires_after_its_age() -> None:
    cache = PageCache(max_age_s=0.0)
    cache.put(("/pilots/1/summary?curves=none", False, "me"), '"v1"', b"<html>")
    assert cache.get(("/pilots/1/summary?curves=none", False, "me")) is None
    small = PageCache(max_entries=1)
    small.put(("/pilots?limit=50", False, "a"), '"v1"', b"a")
    small.put(("/pilots?limit=5", False, "a"), '"v1"', b"b")
    assert small.get(("/pilots?limit=50", False, "a")) is None and small.get(("/pilots?limit=5", False, "a"))


def test_requests_that_miss_together_render_the_page_once(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        pilot_id = create_pilot(site)["id"]
        app, headers = site.client.app, dict(site.client.headers)

        async def eight_at_once() -> list[str]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as client:
                answers = await asyncio.gather(*(client.get(f"/pilots/{pilot_id}") for _ in range(8)))
            assert all(answer.status_code == 200 for answer in answers)
            return [answer.text for answer in answers]

        pages = asyncio.run(eight_at_once())
        assert len(set(pages)) == 1 and _cache(site.client).renders == 1
        start(site.store, site.store.list_runs(pilot_id=pilot_id)[0].id)  # a new version: all eight miss
        pages = asyncio.run(eight_at_once())
        assert len(set(pages)) == 1 and "running" in pages[0] and _cache(site.client).renders == 2


def test_the_sign_in_call_tells_the_state_of_a_pilot_or_of_every_pilot(sqlite_url: str) -> None:
    """``GET /auth/me?pilot=ID`` / ``?pilots=all``: the state the pages revalidate with (null when not asked for,
    for an unknown pilot, or for a user who may not read yet); any change alters it, in any process."""
    with open_site(sqlite_url) as site, second_site(site) as other:
        pilot_id = create_pilot(site)["id"]

        def state(client: TestClient, **params: object) -> object:
            answer = client.get(f"{API}/auth/me", params=params)
            assert answer.status_code == 200, answer.text
            return answer.json()["state"]

        assert state(site.client) is None
        one, every = state(site.client, pilot=pilot_id), state(site.client, pilots="all")
        assert isinstance(one, str) and isinstance(every, str) and one != every
        assert state(other, pilot=pilot_id) == one and state(other, pilots="all") == every  # the same in each process
        for unknown in (999, 0, -1, 2**70):
            assert state(site.client, pilot=unknown) is None
        assert site.client.get(f"{API}/auth/me", params={"pilots": "some"}).status_code == 422
        start(site.store, site.store.list_runs(pilot_id=pilot_id)[0].id)
        assert state(other, pilot=pilot_id) not in (None, one) and state(other, pilots="all") != every
        add_user(site.store, "otto", "engineer", must_change_password=True)
        browser = TestClient(site.client.app)  # a session of its own, with a one-time password still in use
        assert browser.post(f"{API}/auth/login", json={"name": "otto", "password": PASSWORD}).status_code == 200
        answer = browser.get(f"{API}/auth/me", params={"pilot": pilot_id})
        assert answer.status_code == 200 and answer.json()["state"] is None


def test_a_pilots_metrics_are_cached_until_its_points_change_in_any_process(sqlite_url: str) -> None:
    """``GET /pilots/{id}/metrics`` (the pilot page's chart, every few seconds): kept as bytes per version, with an
    ETag and 304; a new point, written by the worker through any process's database, shows at once."""
    with open_site(sqlite_url) as site, second_site(site) as other:
        pilot_id = create_pilot(site, seeds=2)["id"]
        runs = site.store.list_runs(pilot_id=pilot_id)
        path, query = f"{API}/pilots/{pilot_id}/metrics", {"format": "columns", "keys": "test_acc"}
        start(site.store, runs[0].id)
        site.store.write_points(run_id=runs[0].id, points=[("test_acc", 1, 0.5), ("train_loss", 1, 2.0)])
        first = site.client.get(path, params=query)
        assert first.status_code == 200 and first.json()["columns"]["value"] == [0.5]
        cache = site.client.app.state.metrics_cache  # type: ignore[attr-defined]
        assert site.client.get(path, params=query).content == first.content and cache.entries.hits == 1
        other.get(path, params=query)  # the other process's cache is warm too
        etag = first.headers["etag"]
        assert site.client.get(path, params=query, headers={"If-None-Match": etag}).status_code == 304
        # Another query is another entry; a new point changes every process's answer.
        assert site.client.get(path, params={"keys": "train_loss"}).json()["columns"]["value"] == [2.0]
        site.store.write_points(run_id=runs[0].id, points=[("test_acc", 2, 0.75)])
        for client in (site.client, other):
            again = client.get(path, params=query, headers={"If-None-Match": etag})
            assert again.status_code == 200 and again.json()["columns"]["value"] == [0.5, 0.75]
        assert site.client.get(f"{API}/pilots/999/metrics").status_code == 404
