"""The FastAPI application: ``create_app()`` builds it (``uvicorn backend.app:create_app --factory``).

At start it upgrades the database schema and starts the reconciler, a background task that requeues the
runs of lost workers every ``RECONCILE_EVERY_S`` seconds and moves sequential pilots on to their next
round. The JSON API lives under ``/api/v1``, with its
OpenAPI document at ``/api/v1/openapi.json`` and interactive docs at ``/api/v1/docs`` (``backend.api_docs``:
Swagger UI served by the app itself, no CDN).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import uuid
from collections.abc import AsyncIterator

import anyio.to_thread
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from backend import observability
from backend.admission import Admission, Places
from backend.api_docs import install_docs
from backend.auth.gate import CredentialsFirst
from backend.auth.guard import require, route_permissions
from backend.auth.roles import Permission
from backend.catalog import get_catalog
from backend.dispatch import RunQueue, reconcile_forever, release_lease
from backend.errors import install_error_handlers
from backend.limits import BodyLimits
from backend.metrics_cache import MetricsCache
from backend.queue import QueueClient
from backend.reports import charts as report_charts
from backend.rounds import advance_sequential
from backend.routes import (
    analysis,
    auth,
    catalog,
    compare,
    datasets,
    decisions,
    extend,
    health,
    pilots,
    runs,
    users,
    workers,
)
from backend.routes import metrics as metrics_route
from backend.security_headers import SecurityHeaders
from backend.settings import Settings, get_settings
from backend.store import Store
from backend.summary_cache import SummaryCache

API_PREFIX = "/api/v1"


def create_app(
    settings: Settings | None = None, *, store: Store | None = None, queue: RunQueue | None = None
) -> FastAPI:
    """The API app; tests pass their own store and a recording queue, production builds both from settings."""
    settings = settings if settings is not None else get_settings()
    owns_store, owns_queue = store is None, queue is None
    store_ = store if store is not None else Store(settings.database_url)
    queue_: RunQueue = queue if queue is not None else QueueClient(settings)
    catalog_ = get_catalog()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(store_.upgrade)
        # Sync handlers run on AnyIO's worker threads; how many at once is a setting (see docs/benchmarks.md).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        rounds = functools.partial(advance_sequential, store=store_, queue=queue_, settings=settings, catalog=catalog_)
        # One reconciler among the processes sharing the database (uvicorn --workers N, several hosts).
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        reconciler = asyncio.create_task(
            reconcile_forever(store=store_, queue=queue_, settings=settings, also=rounds, holder=holder)
        )
        try:
            yield
        finally:
            reconciler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reconciler
            await asyncio.to_thread(release_lease, store_, holder)
            if owns_queue and isinstance(queue_, QueueClient):
                queue_.close()
            if owns_store:
                store_.dispose()
            await asyncio.to_thread(report_charts.RENDERER.close)  # the report charts' Chromium, if one runs

    app = FastAPI(
        title="R-Block Pilot",
        summary="Is the R-Block regularizer worth its extra training cost? Pilots, runs, metrics and costs.",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # FastAPI's page loads Swagger UI from a CDN; install_docs serves it from the app
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store_
    app.state.queue = queue_
    app.state.catalog = catalog_
    app.state.summary_cache = SummaryCache(
        currency=settings.currency
    )  # this process's; keyed by the pilots' versions in the database
    app.state.metrics_cache = MetricsCache()  # the same, for the pilots' metrics (the pilot page's chart)
    install_error_handlers(app)
    docs_script_hashes = install_docs(app, docs_path=f"{API_PREFIX}/docs")
    app.state.public_paths = set()  # (method, path) anyone may send a body to (CredentialsFirst)
    for module in (auth, users, pilots, extend, analysis, compare, decisions, runs, catalog, datasets, workers, health):
        state_permissions(module.router)
        app.include_router(module.router, prefix=API_PREFIX)
        app.state.public_paths |= public_routes(module.router, API_PREFIX)
    app.add_middleware(BodyLimits, upload_max_bytes=settings.upload_max_bytes)  # 413/415 before reading
    # Outside BodyLimits: an anonymous body is refused (401) before anything reads or measures it.
    app.add_middleware(CredentialsFirst, api_prefix=API_PREFIX)
    # Prometheus: request series by route template, and gauges read at scrape time; /metrics at the root.
    observability.install(app)
    state_permissions(metrics_route.router, inherited=Permission.READ)
    app.include_router(metrics_route.router, dependencies=[require(Permission.READ)])
    app.add_middleware(
        SecurityHeaders,
        docs_path=f"{API_PREFIX}/docs",
        docs_script_hashes=docs_script_hashes,
        private_prefixes=(f"{API_PREFIX}/auth", f"{API_PREFIX}/users"),
    )
    # Outermost: a read waits for its place before any other work is done for it (backend/admission.py).
    app.state.places = Places()  # for /metrics (backend.observability)
    app.add_middleware(
        Admission,
        limit=settings.api_concurrency,
        exempt_paths=frozenset({f"{API_PREFIX}/health"}),
        places=app.state.places,
    )
    return app


def public_routes(router: APIRouter, prefix: str) -> set[tuple[str, str]]:
    """(method, full path) of each route of ``router`` with the ``public`` permission."""
    return {
        (method, prefix + route.path)
        for route in router.routes
        if isinstance(route, APIRoute) and Permission.PUBLIC in route_permissions(route.dependant)
        for method in route.methods or ()
    }


def state_permissions(router: APIRouter, inherited: Permission | None = None) -> None:
    """Check that each route of ``router`` states exactly one permission, and document it in OpenAPI.

    Building the app fails on a route without one, so no route can be added open by mistake. The routers
    are module-level objects shared by every app built in a process: the edits here are idempotent.
    """
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        found = route_permissions(route.dependant) + ([inherited] if inherited else [])
        if len(found) != 1:
            raise RuntimeError(
                f"route {sorted(route.methods or ())} {route.path} states {len(found)} permissions, not one"
            )
        permission = found[0].value
        # Each handler's one-line docstring is its OpenAPI summary (FastAPI would title-case the name).
        if route.summary is None and route.description:
            route.summary = route.description.strip().splitlines()[0]
        route.openapi_extra = {**(route.openapi_extra or {}), "x-permission": permission}
        note = f"Permission: `{permission}`."
        if note not in (route.description or ""):
            route.description = f"{route.description or ''}\n\n{note}".strip()
