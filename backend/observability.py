"""Prometheus metrics of the API: request counts and latencies, plus the service's state at scrape time.

``install(app)`` gives the app its own ``CollectorRegistry`` (never prometheus_client's global one: tests
build many apps in one process, and two apps in one process must not share or collide on series) and adds
``MetricsMiddleware``; ``backend.routes.metrics`` serves the registry at ``GET /metrics``.

Series (all prefixed ``rblock_pilot_``):

- ``http_requests_total`` and ``http_request_duration_seconds`` (histogram), labelled ``method``,
  ``route`` and ``status``. ``route`` is the matched route's *template*, e.g.
  ``/api/v1/pilots/{pilot_id}``, never the raw path, so the number of series stays bounded whatever
  clients ask for; a request that matches no route is labelled ``unmatched``, an unusual method
  ``other``. The pages call the API in-process through the same app (``frontend/client.py``), so a page
  view also counts the API requests it made.
- computed when scraped, from the store and the broker: ``runs{status}`` (every status, zeros included),
  ``workers_online`` (seen within two heartbeat timeouts, as ``/api/v1/health`` counts them),
  ``queue_depth{queue}`` (queues whose depth cannot be read are left out) and ``store_up`` (0 when the
  database did not answer; the scrape itself still succeeds, so the request series stay visible).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.internal_calls import INTERNAL_CALL
from backend.store import RunStatus

NAMESPACE = "rblock_pilot"
UNMATCHED = "unmatched"
# The API answers most requests in milliseconds (bench/api.py, bench/pages.py) while reports take seconds,
# so the buckets start at 1 ms, finer than prometheus_client's default (5 ms), and end at 10 s.
# The method is the client's to choose (any token); others are counted as "other" to bound the series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

log = logging.getLogger(__name__)


class HttpMetrics:
    """The request series of one app, in that app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("method", "route", "status")
        self.requests = Counter(
            "http_requests", "HTTP requests answered", labels, namespace=NAMESPACE, registry=registry
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "time from receiving a request to the end of its response",
            labels,
            namespace=NAMESPACE,
            registry=registry,
            buckets=LATENCY_BUCKETS_S,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method if method in METHODS else "other", route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)


class RouteTemplates:
    """Maps the route that served a request to its full template, e.g. ``/api/v1/pilots/{pilot_id}``.

    Why a table: FastAPI versions differ in what ``scope["route"]`` holds after routing. Older ones copy
    each included route with its prefix (the copy's ``path_format`` is the full template); newer ones leave
    the router's own route there, whose ``path_format`` lacks the ``include_router`` prefix, and list the
    prefixed view through ``fastapi.routing.iter_route_contexts``. Mounts (``/static``) leave no route in
    the scope, only their app as ``endpoint``. The table is built from the app's routes when a request was
    served by a route it has not seen (the first request, or routes added since).
    """

    def __init__(self) -> None:
        self._by_id: dict[int, str] = {}
        # Routes the app does not list, with their own template; kept across rebuilds, so that each costs
        # one rebuild in all rather than one per request.
        self._unlisted: dict[int, str] = {}
        # Both tables are keyed by id(); holding the objects keeps those ids from being reused.
        self._keep: list[object] = []
        self._keep_unlisted: list[object] = []

    def template(self, scope: Scope) -> str:
        """The template of the route that served ``scope``, or ``UNMATCHED``."""
        served = scope.get("route") or scope.get("endpoint")
        if served is None:
            return UNMATCHED
        key = id(served)
        found = self._by_id.get(key) or self._unlisted.get(key)
        if found is None:
            self._rebuild(list(getattr(scope.get("app"), "routes", ())))
            found = self._by_id.get(key)
            if found is None:
                # Its own template (without any include prefix) is still bounded, unlike the raw path.
                found = getattr(served, "path_format", None) or UNMATCHED
                self._unlisted[key] = found
                self._keep_unlisted.append(served)
        return found

    def _rebuild(self, routes: list[Any]) -> None:
        by_id: dict[int, str] = {}
        keep: list[object] = []
        for route, path_format in _flatten(routes):
            by_id[id(route)] = path_format
            keep.append(route)
            if isinstance(route, Mount):
                # The mounted app is what a mount leaves in the scope (as "endpoint").
                by_id[id(route.app)] = path_format
                keep.append(route.app)
        self._by_id, self._keep = by_id, keep


def _flatten(routes: list[Any]) -> Iterator[tuple[object, str]]:
    """(route object found in a request's scope, its full template) for every route of the app."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI that copies included routes with their prefix: the routes are complete
        for route in routes:
            path_format = getattr(route, "path_format", None)
            if path_format:
                yield route, path_format
        return
    for context in iter_route_contexts(routes):
        path_format = context.path_format
        if path_format:
            yield context.original_route, path_format


class MetricsMiddleware:
    """Pure ASGI middleware: counts each HTTP request and times it, labelled by route template.

    Pure ASGI rather than ``BaseHTTPMiddleware``: it adds no task or memory stream per request, and it
    sees the status even of responses that stream.
    """

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get(INTERNAL_CALL):
            # A page's in-process API call is part of the page request, which is counted once already.
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets when the app raises before it starts a response

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            # The router updated this same scope in place, so the matched route is known here.
            self.metrics.observe(scope["method"], self.routes.template(scope), status, time.perf_counter() - started)


class ServiceCollector(Collector):
    """Gauges read when scraped: runs by status, workers online, queue depths, whether the store answers.

    Reads ``app.state`` (store, queue, settings) at each scrape. Runs in the scrape's request thread: the
    ``/metrics`` handler is a plain ``def``, so these blocking reads never stall the event loop.
    """

    def __init__(self, app: FastAPI) -> None:
        self._state = app.state

    def describe(self) -> Iterable[Metric]:
        # Names only; without this, registering the collector would call collect(), i.e. the database.
        return _families()

    def collect(self) -> Iterable[Metric]:
        runs, workers, depths, up = _families()
        try:
            store, settings = self._state.store, self._state.settings
            counts = store.count_runs_by_status()
            online = len(store.list_workers(seen_within_s=settings.workers_seen_within_s))
        except Exception as error:  # a database that is down is a value (store_up 0), not a failed scrape
            log.warning("metrics: the store did not answer: %s", error)
            up.add_metric([], 0)
            yield up
        else:
            for status in RunStatus:  # every status, so a series drops to 0 rather than vanishing
                runs.add_metric([status.value], counts.get(status.value, 0))
            workers.add_metric([], online)
            up.add_metric([], 1)
            yield from (runs, workers, up)
        try:
            queue_depths = self._state.queue.depths()
        except Exception as error:  # QueueClient.depths() is best effort already; a fake queue may not be
            log.warning("metrics: no queue depths: %s", error)
            queue_depths = {}
        for queue, depth in queue_depths.items():
            if depth is not None:  # None: the broker did not say (QueueClient logs why)
                depths.add_metric([queue], depth)
        yield depths
        places = getattr(self._state, "places", None)  # backend.admission: this process's GETs
        if places is not None:
            gauge = GaugeMetricFamily(
                f"{NAMESPACE}_http_reads", "GET requests this process is working on or queueing", labels=["state"]
            )
            gauge.add_metric(["working"], places.working)
            gauge.add_metric(["waiting"], places.waiting)
            yield gauge


def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    """The scrape-time gauges, empty: runs by status, workers online, queue depths, store up."""
    return (
        GaugeMetricFamily(f"{NAMESPACE}_runs", "runs by status", labels=["status"]),
        GaugeMetricFamily(f"{NAMESPACE}_workers_online", "workers seen within two heartbeat timeouts"),
        GaugeMetricFamily(f"{NAMESPACE}_queue_depth", "messages waiting in each broker queue", labels=["queue"]),
        GaugeMetricFamily(f"{NAMESPACE}_store_up", "1 when the database answered this scrape, else 0"),
    )


def install(app: FastAPI) -> CollectorRegistry:
    """Give ``app`` its own registry (``app.state.metrics_registry``) and the request middleware."""
    registry = CollectorRegistry()
    registry.register(ServiceCollector(app))
    app.state.metrics_registry = registry
    app.add_middleware(MetricsMiddleware, metrics=HttpMetrics(registry))
    return registry
