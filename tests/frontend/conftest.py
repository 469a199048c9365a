"""Fixtures of the browser tests: the app under uvicorn (``site``) and Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import Console, Site, serve
from tests.support.chromium import chromium


@pytest.fixture
def site(sqlite_url: str) -> Iterator[Site]:
    """The web app on a free port, on a fresh SQLite store with the engineer ``ENGINEER``."""
    with serve(sqlite_url) as served:
        yield served


@pytest.fixture
def chromium_browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def browser(chromium_browser: Any) -> Iterator[tuple[Any, Console]]:
    """A fresh browser context (no cookies) with one tab, and the watch on its console."""
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    console = Console()
    yield console.watch(context.new_page()), console
    context.close()
