"""Each API process's cache of rendered pages, revalidated against the pilots' versions on every request.

The pilot page is the most expensive page: four in-process API calls (who am I, the pilot with its runs,
the summary, the decisions) and a template; the pilots page is two calls and a template. While nothing of
the pilots changes, a page is the same for the same viewer, so a process keeps the HTML it rendered. On the
next request the page's one sign-in call asks for the state of what it shows too (``GET /auth/me?pilot=ID``
or ``?pilots=all``: one read of the versions, ``backend/etags.py``), and while that state is the one the page
was rendered at, the cached HTML is sent: one in-process API call per cached page, which authenticates once
(docs/design.md §6). Any change the store makes to a pilot bumps its version in the same transaction, in
whichever process or worker made it, so no process serves a page older than the database's state of the
pilots it shows.

The key holds the page's data call (path and query: the summary, the pilots list), whether htmx asks for a
fragment, and the viewer's whole ``/auth/me`` answer but its state (user, role, permissions, the session's
CSRF token: everything the template reads from it), so a page is only ever sent back to the same session or
token. Two things on the page are not covered by the version: times computed from the clock (a running run's
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

Key = tuple[str, bool, str]  # (the page's data call with its query, an htmx fragment?, the viewer as canonical JSON)
# Renders the page from its data call's answer (ok or an error to show).
Renderer = Callable[[ApiResult], Awaitable[Response]]


@dataclass(frozen=True)
class CachedPage:
    state: str  # the pilot's (or pilots') state the page was rendered at: read before its data, never newer
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

    def put(self, key: Key, state: str, html: bytes) -> None:
        with self._lock:
            self._entries[key] = CachedPage(state=state, html=html, made_at=time.monotonic())
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
    # Without the state it came with: that is the page's version, not who views it.
    return me.model_dump_json(exclude={"state"}) if isinstance(me, BaseModel) else json.dumps(me, sort_keys=True)


async def cached_page(
    request: Request, state: str | None, path: str, params: dict[str, Any], render: Renderer
) -> Response:
    """The page whose content follows from ``GET path?params``, for the viewer and ``state`` that
    ``frontend.signin.signed_in_with_state`` found in its one call: the cached HTML while the state is the one it
    was rendered at, else ``render``'s page from that call's answer, kept when it is a 200."""
    cache = page_cache(request)
    call = f"{path}?{urlencode(sorted(params.items()))}"
    key: Key = (call, request.headers.get("HX-Request") == "true", viewer_key(request))
    cached = cache.get(key)
    if state is not None and cached is not None and cached.state == state:
        cache.count(hit=True)
        return HTMLResponse(cached.html)
    cache.count(hit=False)
    if state is None:  # an unknown pilot, or a viewer who may not read it: the API's answer says which
        return await _render(cache, render, await PageApi(request).call("GET", path, params=params))
    # Every request in flight misses at once when a training pilot's version changes (each epoch): the first
    # asks for the page's data and renders it for the new state, the others wait for its HTML.
    flight = (key, state)
    leader = cache.rendering.get(flight)
    if leader is not None:
        html = await asyncio.shield(leader)
        if html is not None:
            return HTMLResponse(html)
        # None: the first request's render failed or was not a 200; this one renders for itself.
        return await _render(cache, render, await PageApi(request).call("GET", path, params=params))
    cache.rendering[flight] = done = asyncio.get_running_loop().create_future()
    cache.renders += 1
    html = None
    try:
        # The state was read BEFORE the data, so a change committed in between leaves the page under the older
        # state at worst (newer than its tag, never older): the next request reads the newer state and misses.
        result = await PageApi(request).call("GET", path, params=params)
        response = await render(result)
        if result.ok and response.status_code == 200:
            html = bytes(response.body)
            cache.put(key, state, html)
        return response
    finally:
        del cache.rendering[flight]
        done.set_result(html)


async def _render(cache: PageCache, render: Renderer, result: ApiResult) -> Response:
    cache.renders += 1
    return await render(result)
