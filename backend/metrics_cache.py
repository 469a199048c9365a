"""Each API process's cache of a pilot's metrics answers (``GET /pilots/{id}/metrics``), as JSON bytes keyed by
the pilot's version, like the summaries (``backend/summary_cache.py``).

The pilot page's chart asks for its pilot's curves every few seconds, in every open browser, and building the
answer reads every run and point of the asked keys. The store bumps ``pilots.version`` in the same
transaction as every write of a run's points or status, so an entry is served only while one primary-key read
finds the same version: never older than the database, whatever other processes wrote. The key holds the
query too (keys, downsampling, layout) and the pilot's creation time (SQLite re-uses a deleted pilot's id).
Only the newest version of each pilot is kept; the answers carry an ETag of that state, and a request that
sends it back in ``If-None-Match`` gets ``304 Not Modified`` for the one read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

from starlette.responses import Response

from backend.etags import caching_headers, make_etag, not_modified
from backend.newest_versions import NewestVersions
from backend.store import Store

# An answer of one key for a few runs is kilobytes; with every key of a big pilot, megabytes: a small count.
MAX_ENTRIES = 64

Key = tuple[int, int, int, Hashable]  # (pilot id, version, creation time in µs, the query)


class MetricsCache:
    """Thread-safe: the API's sync handlers run on a thread pool."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.entries: NewestVersions[Key, bytes] = NewestVersions(max_entries)  # its hits and misses: the tests
        self._lock = threading.Lock()

    def response(
        self,
        store: Store,
        pilot_id: int,
        query: Hashable,
        build: Callable[[], bytes],
        if_none_match: str | None = None,
    ) -> Response:
        """The answer to ``query`` on the pilot's current state: 304 when ``if_none_match`` names it, the cached
        bytes while it is unchanged, else ``build()``'s (kept)."""
        version = store.versions.of(pilot_id=pilot_id)  # read BEFORE the points: an entry is never older than its key
        if version is None:  # no such pilot: answered as before the cache, uncached
            return Response(build(), media_type="application/json")
        key: Key = (pilot_id, version[0], int(version[1].timestamp() * 1e6), query)
        etag = make_etag("m", key[:3], query)
        unchanged = not_modified(if_none_match, etag)
        if unchanged is not None:
            return unchanged
        with self._lock:
            body = self.entries.get(key)
        if body is None:
            body = build()
            with self._lock:
                self.entries.put(key, body)
        return Response(body, media_type="application/json", headers=caching_headers(etag))
