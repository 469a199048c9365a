"""The mark of an in-process API call made by the pages (``frontend/client.py``), known to both layers.

A page reads the JSON API in-process, with the credentials of the browser's request. Such a call carries
``INTERNAL_CALL`` in its ASGI scope (which no client on the network can set: it is not a header), so that
the request metrics (``backend.observability``) count only the page request itself, not its parts, and
its ``state`` is shared by the calls of one page request, so that the principal found by the first one
(``backend.auth.guard.authenticate``) serves the others: one credentials lookup per page, not one per call.
"""

from __future__ import annotations

INTERNAL_CALL = "rblock_pilot.internal_call"
