"""The whole web app (API + pages) on a fresh store, with the recording queue of the API tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from backend.settings import Settings
from backend.store import Store
from pilot_cli.webapp import create_app
from tests.support.api import ADMIN, Api, RecordingQueue, add_user, bearer


def site_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, broker_url="memory://", reconcile_every_s=3600.0)


@contextmanager
def open_site(database_url: str, **overrides: Any) -> Iterator[Api]:
    config = site_settings(database_url).model_copy(update=overrides)
    store = Store(config.database_url)
    queue = RecordingQueue(store=store)
    try:
        with TestClient(create_app(config, store=store, queue=queue)) as client:
            # Pages pass the request's credentials on to the API, so a token works for them too; the
            # browser tests sign in through the login form instead.
            token = add_user(store, ADMIN, "admin")
            client.headers.update(bearer(token))
            yield Api(client=client, store=store, queue=queue, settings=config, tokens={ADMIN: token})
    finally:
        store.dispose()


def csrf_of(html: str) -> str:
    """The CSRF token of the form on ``html`` (fails when the page has none)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)
