"""Each API process's cache of pilot summaries, keyed by the pilot's version (``backend/store/versions.py``).

A summary reads every run and point of a pilot: tens of milliseconds on a small pilot, far more on a big
one, and the pages, the JSON API, the figures and the reports ask for it again and again while nothing of
the pilot changes. The store bumps ``pilots.version`` in the same transaction as every write the summary
depends on, so a cached entry is served only while one primary-key read finds the same version: a
process never serves a summary older than the database, whatever the other processes wrote (they share
nothing but the database). The key holds every argument of the summary too (curve keys, prices), and the
pilot's creation time, since SQLite may give a deleted pilot's id to a new one.

Entries are kept least recently used first, as JSON bytes (see CachedSummary), and only the newest version
of each pilot; a summary being built is built once, however many requests ask for it meanwhile.

Each answer carries an ETag naming the pilot's state (:func:`pilot_etag`), and a request that sends it back
in ``If-None-Match`` while the version is unchanged gets ``304 Not Modified`` for the one primary-key read:
the pages use that to serve their own cached rendering of the pilot (``frontend/page_cache.py``), and
browsers and scripts polling a pilot can use it too.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from starlette.responses import Response

from backend.analysis.service import analyse_pilot
from backend.etags import caching_headers, make_etag, not_modified
from backend.newest_versions import NewestVersions
from backend.store import NotFound, Store
from pilot_spec.analysis import PilotAnalysis
from pilot_spec.money import DEFAULT_CURRENCY, Currency

# A summary without curves is a few kilobytes and one with every curve rarely more than a megabyte.
MAX_ENTRIES = 256
# How long a request waits for another thread building the same summary before it builds it itself.
BUILD_WAIT_S = 30.0

Key = tuple[int, int, datetime, tuple[tuple[str, float], ...], tuple[str, ...] | None]


def pilot_etag(key: Key) -> str:
    """The ETag of one state of a pilot's analysis: its id, version and creation time (which tells a re-used id
    apart), with the prices and curves asked for."""
    pilot_id, version, created, prices, curves = key
    return make_etag("p", (pilot_id, version, int(created.timestamp() * 1e6)), (prices, curves))


@dataclass(frozen=True)
class CachedSummary:
    """A summary as its JSON bytes only: bytes are invisible to the garbage collector, whereas the analysis's
    thousands of objects, alive for minutes, would be walked by every full collection of a busy process."""

    json: bytes  # what FastAPI's JSONResponse would send for the summary, encoded once
    etag: str  # pilot_etag of the state it was built from

    @property
    def analysis(self) -> PilotAnalysis:
        """The analysis parsed afresh (for in-process readers such as the figures)."""
        return PilotAnalysis.model_validate_json(self.json)


def encode(analysis: PilotAnalysis) -> bytes:
    """The JSON body of ``analysis``, byte for byte as ``fastapi.responses.JSONResponse`` renders its plain
    JSON values (``PilotAnalysis.to_jsonable``)."""
    content = analysis.to_jsonable()
    return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


class SummaryCache:
    """Thread-safe: the API's sync handlers run on a thread pool. ``currency`` is the deployment's ``CURRENCY``
    (the verdicts' sentences write money in it): fixed for the process, so not part of the key."""

    def __init__(self, max_entries: int = MAX_ENTRIES, currency: Currency = DEFAULT_CURRENCY) -> None:
        self._currency = currency
        self._entries: NewestVersions[Key, CachedSummary] = NewestVersions(max_entries)
        self._building: dict[Key, threading.Event] = {}
        self._lock = threading.Lock()

    @property
    def hits(self) -> int:
        return self._entries.hits

    @property
    def misses(self) -> int:
        return self._entries.misses

    def response(
        self,
        store: Store,
        pilot_id: int,
        prices: dict[str, float],
        curve_keys: Sequence[str] | None = None,
        if_none_match: str | None = None,
    ) -> Response:
        """The summary's HTTP answer: 304 when ``if_none_match`` names the current state, else the JSON bytes."""
        key = _key(store, pilot_id, prices, curve_keys)
        etag = pilot_etag(key)
        unchanged = not_modified(if_none_match, etag)
        if unchanged is not None:
            return unchanged
        return Response(self._get(store, key).json, media_type="application/json", headers=caching_headers(etag))

    def get(
        self, store: Store, pilot_id: int, prices: dict[str, float], curve_keys: Sequence[str] | None = None
    ) -> CachedSummary:
        """The pilot's analysis as ``analyse_pilot`` builds it, from the cache while the pilot is unchanged."""
        return self._get(store, _key(store, pilot_id, prices, curve_keys))

    def _get(self, store: Store, key: Key) -> CachedSummary:
        pilot_id, curves = key[0], key[4]
        with self._lock:
            entry = self._lookup(key)
            if entry is not None:
                return entry
            building = self._building.get(key)
            if building is None:
                self._building[key] = building = threading.Event()
                builder = True
            else:
                builder = False
        if not builder:
            # Another thread builds this very summary (a pilot's version changes every epoch while it trains,
            # and then every request in flight misses at once): wait for it rather than build it N times.
            building.wait(timeout=BUILD_WAIT_S)
            with self._lock:
                entry = self._lookup(key)
            if entry is not None:
                return entry
        try:
            # The version was read BEFORE the summary, so a change committed in between leaves this entry
            # under the older version at worst: the next request reads the newer version and misses.
            curve_list = None if curves is None else list(curves)
            analysis = analyse_pilot(store, pilot_id, dict(key[3]), curve_list, self._currency)
            entry = CachedSummary(json=encode(analysis), etag=pilot_etag(key))
            with self._lock:
                self._entries.put(key, entry)  # older versions of this pilot are never asked for again: dropped
            return entry
        finally:
            if builder:
                with self._lock:
                    self._building.pop(key, None)
                building.set()

    def _lookup(self, key: Key) -> CachedSummary | None:
        """The entry under ``key`` (counted as a hit), or None; the caller holds the lock."""
        return self._entries.get(key)


def _key(store: Store, pilot_id: int, prices: dict[str, float], curve_keys: Sequence[str] | None) -> Key:
    """The cache key of the pilot's current state (one primary-key read); NotFound when it does not exist."""
    version = store.versions.of(pilot_id=pilot_id)
    if version is None:
        raise NotFound(f"pilot {pilot_id} does not exist")
    curves = None if curve_keys is None else tuple(curve_keys)
    return (pilot_id, version[0], version[1], tuple(sorted(prices.items())), curves)
