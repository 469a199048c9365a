"""A page's in-process API calls (frontend/client.py): one credentials lookup per page request, and not
counted as API traffic in /metrics (only the page request itself is); a cached page is one call in all.
The lookups are counted with the sign-ins a process keeps turned off (``auth_cache_s=0``); the last tests
check what keeping them changes (backend/auth/signins.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from backend.store import Store
from frontend import client as page_client
from tests.support.api import API, create_pilot, start
from tests.support.metrics import scrape
from tests.support.site import open_site

TOTAL = "rblock_pilot_http_requests_total"


@contextmanager
def credential_lookups(store: Store) -> Iterator[list[str]]:
    """The SQL statements that read API tokens or sign-in sessions while the block runs (real queries)."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and (
            "api_tokens" in statement or "login_sessions" in statement
        ):
            seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", note)


@contextmanager
def page_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The paths of the in-process API calls the pages make while the block runs (each still made for real)."""
    seen: list[str] = []
    real = page_client._asgi_call

    async def counted(app: Any, scope: dict[str, Any], body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        seen.append(f"{scope['path']}?{scope['query_string'].decode()}")
        return await real(app, scope, body)

    with monkeypatch.context() as patch:
        patch.setattr(page_client, "_asgi_call", counted)
        yield seen


def _count(samples: Any, route: str) -> float:
    return float(sum(v for (name, labels), v in samples.items() if name == TOTAL and ("route", route) in labels))


def test_a_page_authenticates_once_and_counts_once(sqlite_url: str) -> None:
    with open_site(sqlite_url, auth_cache_s=0) as site:
        pilot_id = create_pilot(site)["id"]
        site.client.get(f"/pilots/{pilot_id}").raise_for_status()  # warm: templates compiled
        before = scrape(site.client)
        with credential_lookups(site.store) as lookups:
            page = site.client.get(f"/pilots/{pilot_id}")  # /auth/me, the pilot, its summary, its decisions
        assert page.status_code == 200 and "digits" in page.text
        assert len(lookups) == 1, lookups
        after = scrape(site.client)
        assert _count(after, "/pilots/{pilot_id}") - _count(before, "/pilots/{pilot_id}") == 1
        for route in ("/pilots/{pilot_id}/summary", "/pilots/{pilot_id}", "/pilots/{pilot_id}/decisions", "/auth/me"):
            assert _count(after, API + route) == _count(before, API + route), route
        # The API itself, called from outside, is still counted and authenticated per request.
        with credential_lookups(site.store) as lookups:
            assert site.client.get(f"{API}/pilots/{pilot_id}/summary").status_code == 200
        assert len(lookups) == 1
        summary_route = API + "/pilots/{pilot_id}/summary"
        assert _count(scrape(site.client), summary_route) == _count(after, summary_route) + 1


def test_a_change_makes_the_next_call_look_the_credentials_up_again(sqlite_url: str) -> None:
    with open_site(sqlite_url, auth_cache_s=0) as site:
        pilot_id = create_pilot(site)["id"]
        run_id = site.store.list_runs(pilot_id=pilot_id)[0].id
        with credential_lookups(site.store) as lookups:
            # The page cancels the run (a POST) and then reads the runs again for the fragment it returns.
            response = site.client.post(f"/runs/{run_id}/cancel", headers={"HX-Request": "true"})
        assert response.status_code < 400, response.text
        assert len(lookups) >= 2
        assert site.store.get_run(run_id=run_id).status.value == "cancelled"


def test_a_cached_page_is_one_call_that_authenticates_once(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page kept by the page cache: who asks and the state of what it shows come in one call (/auth/me)."""
    with open_site(sqlite_url, auth_cache_s=0) as site:
        pilot_id = create_pilot(site)["id"]
        for path, call in (
            (f"/pilots/{pilot_id}", f"{API}/auth/me?pilot={pilot_id}"),
            ("/", f"{API}/auth/me?pilots=all"),
        ):
            with page_calls(monkeypatch) as calls:
                first = site.client.get(path)  # rendered: the sign-in and state call, then the page's data
            assert first.status_code == 200 and calls[0] == call and len(calls) > 1, calls
            with page_calls(monkeypatch) as calls, credential_lookups(site.store) as lookups:
                again = site.client.get(path)
            assert again.status_code == 200 and again.text == first.text
            assert calls == [call] and len(lookups) == 1, (calls, lookups)
        # A change to the pilot: the next view renders again (the state in that one call changed).
        start(site.store, site.store.list_runs(pilot_id=pilot_id)[0].id)
        with page_calls(monkeypatch) as calls:
            assert "running" in site.client.get(f"/pilots/{pilot_id}").text
        assert len(calls) > 1


def test_a_kept_sign_in_saves_the_lookup_and_a_revocation_here_ends_it_at_once(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:  # AUTH_CACHE_S 1 s, the default
        pilot_id = create_pilot(site)["id"]
        summary = f"{API}/pilots/{pilot_id}/summary"
        with credential_lookups(site.store) as lookups:
            assert site.client.get(summary).status_code == 200
            assert site.client.get(summary).status_code == 200
        assert len(lookups) <= 1, lookups  # the second request used the sign-in the first one found
        token = site.client.headers["Authorization"].removeprefix("Bearer ")
        mine = [t for t in site.store.accounts.list_tokens() if token.startswith(t.prefix)]
        assert len(mine) == 1
        site.store.accounts.revoke_token(token_id=mine[0].id)  # in this process: every kept sign-in is forgotten
        assert site.client.get(summary).status_code == 401


def test_a_change_made_elsewhere_takes_effect_within_the_setting(sqlite_url: str) -> None:
    """Another process's revocation (here: an UPDATE this process's store does not note) ends a kept sign-in
    once it ages out, and not before."""
    from sqlalchemy import text

    with open_site(sqlite_url, auth_cache_s=0.5) as site:
        pilot_id = create_pilot(site)["id"]
        summary = f"{API}/pilots/{pilot_id}/summary"
        assert site.client.get(summary).status_code == 200
        with site.store.engine.begin() as connection:
            connection.execute(text("UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP"))
        assert site.client.get(summary).status_code == 200  # kept: at most AUTH_CACHE_S old
        time.sleep(0.6)
        assert site.client.get(summary).status_code == 401
