"""Conditional GETs on the pilots' versions: an ETag names one state of what an answer is built from, and a
request that sends it back in ``If-None-Match`` gets ``304 Not Modified`` while that state is unchanged.

The states are the versions the store bumps in the same transaction as every change (``Store.versions``),
so every API process computes the same tag for the same state and none answers 304 for a stale one. Each
tag also carries a checksum of the answer's arguments (the query, the prices), since a tag is compared
per URL by HTTP caches but our pages compare it themselves (``frontend/page_cache.py``).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

if TYPE_CHECKING:
    from backend.store import Store

# Revalidate every time (no-cache), and keep it out of shared caches (private): the answer depends on credentials.
CACHE_CONTROL = "private, no-cache"


def make_etag(kind: str, state: Any, arguments: Any) -> str:
    """A strong ETag for ``state`` (a tuple of ints and strs naming a version) of an answer of ``kind`` built
    with ``arguments``; a stable checksum, the same in every process (``hash()`` of a str is not)."""
    checksum = zlib.crc32(repr(arguments).encode())
    return f'"{kind}.{".".join(str(part) for part in state)}.a{checksum:08x}"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (a list of tags, ``*``, or weak tags: RFC 9110 13.1.2)."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


def caching_headers(etag: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": CACHE_CONTROL}


def not_modified(if_none_match: str | None, etag: str) -> Response | None:
    """The 304 answer when ``if_none_match`` names ``etag``, else None (build the answer, with ``caching_headers``)."""
    return Response(status_code=304, headers=caching_headers(etag)) if matches(if_none_match, etag) else None


def pilot_state(store: Store, pilot_id: int) -> str | None:
    """A tag of one pilot's state now (its id, version and creation time, one primary-key read), None when it
    does not exist: the pages' cache of the pilot page revalidates with it (``GET /auth/me?pilot=ID``)."""
    version = store.versions.of(pilot_id=pilot_id)
    return None if version is None else make_etag("p", (pilot_id, version[0], int(version[1].timestamp() * 1e6)), ())


def pilots_state(store: Store) -> str:
    """A tag of every pilot's state now (one aggregate, ``Versions.of_all``): the pilots page's revalidation."""
    return make_etag("l", store.versions.of_all(), ())
