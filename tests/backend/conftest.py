"""Fixtures the API tests share: the app on a fresh SQLite store, and the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.api import Api, open_api


@pytest.fixture
def api(sqlite_url: str) -> Iterator[Api]:
    with open_api(sqlite_url) as api:
        yield api


@pytest.fixture
def api_any(database_url: str) -> Iterator[Api]:
    """The same test on SQLite and on PostgreSQL."""
    with open_api(database_url) as api:
        yield api
