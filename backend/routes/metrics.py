"""``GET /metrics``: the app's Prometheus metrics (``backend.observability``), at the root where scrapers look.

Mounted without the ``/api/v1`` prefix: it is an operations endpoint in Prometheus's format, not part of
the versioned JSON API, and ``/metrics`` is every scraper's default path.
"""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from backend.errors import error_responses

router = APIRouter(tags=["operations"], responses=error_responses(401, 403, 503))


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(request: Request) -> Response:
    """Request counts and latencies by route, runs by status, workers online and queue depths (Prometheus)."""
    # A plain def: collecting reads the store and the broker, which block; FastAPI runs this in its pool.
    registry = cast(CollectorRegistry, request.app.state.metrics_registry)
    # The text format by default; OpenMetrics when the scraper asks for it in Accept.
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(registry), headers={"Content-Type": content_type})
