"""A page's in-process API calls (frontend/client.py): one credentials lookup per page request, and not
counted as API traffic in /metrics (only the page request itself is)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from backend.store import Store
from tests.support.api import API, create_pilot
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


def _count(samples: Any, route: str) -> float:
    return float(sum(v for (name, labels), v in samples.items() if name == TOTAL and ("route", route) in labels))


def test_a_page_authenticates_once_and_counts_once(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
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
    with open_site(sqlite_url) as site:
        pilot_id = create_pilot(site)["id"]
        run_id = site.store.list_runs(pilot_id=pilot_id)[0].id
        with credential_lookups(site.store) as lookups:
            # The page cancels the run (a POST) and then reads the runs again for the fragment it returns.
            response = site.client.post(f"/runs/{run_id}/cancel", headers={"HX-Request": "true"})
        assert response.status_code < 400, response.text
        assert len(lookups) >= 2
        assert site.store.get_run(run_id=run_id).status.value == "cancelled"
