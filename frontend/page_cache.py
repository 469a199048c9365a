"""Each API process's cache of rendered pilot pages, revalidated against the pilot's version on every request.

The pilot page is the most expensive page: four in-process API calls (who am I, the pilot with its runs,
the summary, the decisions) and a template. While nothing of the pilot changes, the page is the same for
the same viewer, so a process keeps the HTML it rendered and, on the next request, only asks the summary
with ``If-None-Match: <its ETag>``: the API answers 304 for one primary-key read of the pilot's version
while the version is unchanged (``backend/summary_cache.py``), and the cached HTML is sent. Any change the
store makes to the pilot bumps that version in the same transaction, in whichever process or worker made
it, so no process serves a page older than the database's state of the pilot.

The key holds the viewer's whole ``/auth/me`` answer (user, role, permissions, the session's CSRF token:
everything the template reads from it), so a page is only ever sent back to the same session or token.
Two things on the page are not covered by the version: times computed from the clock (a running run's
ETA) and a run's epoch counter, which the worker's heartbeat writes just after the points (which bump the
version). A cached page is therefore also at most ``MAX_AGE_S`` old, and the runs grid on it refreshes
itself every 2 s from the uncached fragment anyway.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from frontend.client import ApiResult, PageApi

# One entry per (pilot, viewer): a page is some tens of kilobytes.
MAX_ENTRIES = 256
MAX_AGE_S = 5.0
# What the page shows of the summary (the per-epoch curves are drawn from the metrics endpoint instead).
SUMMARY_QUERY = {"curves": "none"}

Key = tuple[int, str]  # (pilot id, the viewer's /auth/me answer as canonical JSON)
# Renders the page from the summary answer (ok or an error to show); the pilot's 404 page when it is gone.
Renderer = Callable[[Request, int, ApiResult], Awaitable[Response]]


@dataclass(frozen=True)
class CachedPage:
    etag: str  # the summary's ETag when the page was rendered: read before the rest, so never newer than it
    html: bytes
    made_at: float  # time.monotonic()


class PageCache:
    """Thread-safe, although the page handlers all run on the event loop (they are async)."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_age_s: float = MAX_AGE_S) -> None:
        self._entries: OrderedDict[Key, CachedPage] = OrderedDict()
        self._lock = threading.Lock()
        self._max, self._max_age_s = max_entries, max_age_s
        self.hits = 0
        self.misses = 0

    def get(self, key: Key) -> CachedPage | None:
        """The page rendered for ``key``, if young enough to be revalidated (the version decides the rest)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if time.monotonic() - entry.made_at > self._max_age_s:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: Key, etag: str, html: bytes) -> None:
        with self._lock:
            self._entries[key] = CachedPage(etag=etag, html=html, made_at=time.monotonic())
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def count(self, *, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1


def page_cache(request: Request) -> PageCache:
    """The app's page cache, made on first use (the pages are installed on an app they do not build)."""
    state = request.app.state
    cache: PageCache | None = getattr(state, "pilot_page_cache", None)
    if cache is None:
        cache = state.pilot_page_cache = PageCache()
    return cache


def viewer_key(request: Request) -> str:
    """The viewer as the template sees them: the whole ``/auth/me`` answer (``frontend.pages.signed_in``)."""
    return json.dumps(getattr(request.state, "me", None), sort_keys=True, separators=(",", ":"))


async def cached_pilot_page(request: Request, pilot_id: int, render: Renderer) -> Response:
    """The pilot page: the cached HTML while the pilot's version is unchanged, else ``render``'s, kept."""
    cache, key = page_cache(request), (pilot_id, viewer_key(request))
    cached = cache.get(key)
    headers = {"If-None-Match": cached.etag} if cached is not None else None
    summary = await PageApi(request).call("GET", f"/pilots/{pilot_id}/summary", params=SUMMARY_QUERY, headers=headers)
    if cached is not None and summary.status == 304:
        cache.count(hit=True)
        return HTMLResponse(cached.html)
    cache.count(hit=False)
    response = await render(request, pilot_id, summary)
    if summary.ok and summary.etag and response.status_code == 200:
        cache.put(key, summary.etag, bytes(response.body))
    return response
