"""Reports kept by what they are built from: a repeated download is a dictionary look-up, not a render.

The key is the SHA-256 of the canonical JSON (``backend.store.decisions.canonical_json``, the one helper) of
everything a report shows: the summary as the report uses it, the decisions listed, the pilot and its runs
(the template reads their dates, devices and errors) and the report's own inputs (format, charts, sizes).
Any change to the pilot (a run's status or points, ROI inputs, an extension, a decision) changes some of
those, hence the key: a stale report cannot be served, and nothing needs invalidating. The cache is per
process; several API processes each keep their own, which is correct because the key is content-derived.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from backend.store.decisions import canonical_json

MAX_BYTES = 64 * 1024 * 1024  # a few dozen PDFs (0.2-1 MB) or a dozen HTML reports (plotly.js: ~5 MB each)
MAX_ENTRIES = 48


def _plain(value: Any) -> Any:
    """Dataclasses (a Pilot, its Runs) to dicts; NaN and infinities to None (JSON has neither)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def report_key(**material: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``material``: dataclasses (a Pilot, its Runs) as dicts, NaN as
    null, dates as text."""
    plain = json.loads(json.dumps(_plain(material), default=str))
    return hashlib.sha256(canonical_json(plain).encode("utf-8")).hexdigest()


class ReportCache:
    """An LRU of bytes (reports; the report charts, backend/reports/charts.py) bounded by total size and by
    count; safe to share between threads."""

    def __init__(self, max_bytes: int = MAX_BYTES, max_entries: int = MAX_ENTRIES) -> None:
        self.max_bytes, self.max_entries = max_bytes, max_entries
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str) -> bytes | None:
        """The bytes kept under ``key`` (now the most recently used), or None."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found

    def get_or_make(self, key: str, make: Callable[[], bytes]) -> bytes:
        """The bytes kept under ``key``, or ``make()``'s (made outside the lock: other reports go on)."""
        found = self.get(key)
        if found is not None:
            return found
        content = make()
        self.put(key, content)
        return content

    def put(self, key: str, content: bytes) -> None:
        if len(content) > self.max_bytes:
            return  # larger than the whole cache: served, not kept
        with self._lock:
            old = self._entries.pop(key, None)
            self._size -= len(old) if old is not None else 0
            self._entries[key] = content
            self._size += len(content)
            while self._size > self.max_bytes or len(self._entries) > self.max_entries:
                _, dropped = self._entries.popitem(last=False)
                self._size -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._size = 0

    def __len__(self) -> int:
        return len(self._entries)


REPORTS = ReportCache()
