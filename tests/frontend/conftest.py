"""Fixtures of the browser tests: the app under uvicorn (``site``) and Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import chromium
from tests.frontend.browser_support import Site, serve


@pytest.fixture
def site(sqlite_url: str) -> Iterator[Site]:
    """The web app on a free port, on a fresh SQLite store with the engineer ``ENGINEER``."""
    with serve(sqlite_url) as served:
        yield served


@pytest.fixture
def chromium_browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser
