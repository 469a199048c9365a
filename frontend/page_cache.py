"""Each API process's cache of rendered pages, revalidated against the pilots' versions on every request.

The pilot page is the most expensive page: four in-process API calls (who am I, the pilot with its runs,
the summary, the decisions) and a template; the pilots page is two calls and a template. While nothing of
the pilots changes, a page is the same for the same viewer, so a process keeps the HTML it rendered and,
on the next request, makes only the page's first API call (the pilot's summary; the pilots list) with
``If-None-Match: <the ETag it had>``: the API answers 304 for one read of the versions while they are
unchanged (``backend/etags.py``), and the cached HTML is sent. Any change the store makes to a pilot bumps
its version in the same transaction, in whichever process or worker made it, so no process serves a page
older than the database's state of the pilots it shows.

The key holds that first call (path and query), whether htmx asks for a fragment, and the viewer's whole
``/auth/me`` answer (user, role, permissions, the session's CSRF token:
everything the template reads from it), so a page is only ever sent back to the same session or token.
Two things on the page are not covered by the version: times computed from the clock (a running run's
ETA) and a run's epoch counter, which the worker's heartbeat writes just after the points (which bump the
version). A cached page is therefore also at most ``MAX_AGE_S`` old, and the runs grid on it refreshes
itself every 2 s from the uncached fragment anyway.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from frontend.client import ApiResult, PageApi

# One entry per (page, viewer): a page is some tens of kilobytes.
MAX_ENTRIES = 256
MAX_AGE_S = 5.0

Key = tuple[str, bool, str]  # (the first API call with its query, an htmx fragment?, the viewer as canonical JSON)
# Renders the page from the first call's answer (ok or an error to show).
Renderer = Callable[[ApiResult], Awaitable[Response]]


@dataclass(frozen=True)
class CachedPage:
    etag: str  # the summary's ETag when the page was rendered: read before the rest, so never newer than it
    html: bytes
    made_at: float  # time.monotonic()


class PageCache:
    """The entries are behind a lock (cheap insurance), though the page handlers all run on the event loop."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_age_s: float = MAX_AGE_S) -> None:
        self._entries: OrderedDict[Key, CachedPage] = OrderedDict()
        self._lock = threading.Lock()
        self._max, self._max_age_s = max_entries, max_age_s
        # Renders in progress, by (key, ETag): on the event loop of this process (the page handlers are async).
        self.rendering: dict[tuple[Key, str], asyncio.Future[bytes | None]] = {}
        self.hits = 0
        self.misses = 0
        self.renders = 0  # pages rendered on a miss (the requests that waited for another's are not counted)

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
    """The viewer as the templates see them: the whole ``/auth/me`` answer (``frontend.signin.signed_in``)."""
    me = getattr(request.state, "me", None)
    return me.model_dump_json() if isinstance(me, BaseModel) else json.dumps(me, sort_keys=True)


async def cached_page(request: Request, path: str, params: dict[str, Any], render: Renderer) -> Response:
    """The page whose content follows from ``GET path?params`` (an API answer with an ETag): the cached HTML
    while that answer would be unchanged (304), else ``render``'s page from the answer, kept when it is a 200."""
    cache = page_cache(request)
    call = f"{path}?{urlencode(sorted(params.items()))}"
    key: Key = (call, request.headers.get("HX-Request") == "true", viewer_key(request))
    cached = cache.get(key)
    headers = {"If-None-Match": cached.etag} if cached is not None else None
    result = await PageApi(request).call("GET", path, params=params, headers=headers)
    if cached is not None and result.status == 304:
        cache.count(hit=True)
        return HTMLResponse(cached.html)
    cache.count(hit=False)
    if not (result.ok and result.etag):
        return await _render(cache, render, result)
    # Every request in flight misses at once when a training pilot's version changes (each epoch): the first
    # renders the page for the new state, the others wait for its HTML instead of rendering it N times.
    latest = cache.get(key)  # another request may have rendered this very state while this one asked
    if latest is not None and latest.etag == result.etag:
        return HTMLResponse(latest.html)
    flight = (key, result.etag)
    leader = cache.rendering.get(flight)
    if leader is not None:
        html = await asyncio.shield(leader)
        # None: the first request's render failed or was not a 200; this one renders for itself.
        return HTMLResponse(html) if html is not None else await _render(cache, render, result)
    cache.rendering[flight] = done = asyncio.get_running_loop().create_future()
    cache.renders += 1
    html = None
    try:
        response = await render(result)
        if response.status_code == 200:
            html = bytes(response.body)
            cache.put(key, result.etag, html)
        return response
    finally:
        del cache.rendering[flight]
        done.set_result(html)


async def _render(cache: PageCache, render: Renderer, result: ApiResult) -> Response:
    cache.renders += 1
    return await render(result)
