"""What route handlers get injected: the app's settings, store, queue and catalog (set by ``create_app``).

Handlers that call the store are plain ``def`` functions: FastAPI runs them in its thread pool, so a
blocking database call never stalls the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar, cast

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel

from backend.catalog import Catalog
from backend.dispatch import RunQueue
from backend.metrics_cache import MetricsCache
from backend.settings import Settings
from backend.store import Store
from backend.summary_cache import SummaryCache

# Ids beyond a 64-bit integer cannot exist, and SQLite would raise an overflow error on them.
MAX_ID = 2**63 - 1
Handler = TypeVar("Handler", bound=Callable[..., Any])


def get_settings_dep(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def get_store(request: Request) -> Store:
    return cast(Store, request.app.state.store)


def get_queue(request: Request) -> RunQueue:
    return cast(RunQueue, request.app.state.queue)


def get_summary_cache(request: Request) -> SummaryCache:
    return cast(SummaryCache, request.app.state.summary_cache)


def get_metrics_cache(request: Request) -> MetricsCache:
    return cast(MetricsCache, request.app.state.metrics_cache)


def get_catalog_dep(request: Request) -> Catalog:
    return cast(Catalog, request.app.state.catalog)


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
StoreDep = Annotated[Store, Depends(get_store)]
QueueDep = Annotated[RunQueue, Depends(get_queue)]
CatalogDep = Annotated[Catalog, Depends(get_catalog_dep)]
SummaryCacheDep = Annotated[SummaryCache, Depends(get_summary_cache)]
MetricsCacheDep = Annotated[MetricsCache, Depends(get_metrics_cache)]
PilotId = Annotated[int, Path(ge=1, le=MAX_ID, description="a pilot's id")]
RunId = Annotated[int, Path(ge=1, le=MAX_ID, description="a run's id")]


def dry_run_post(router: APIRouter, path: str, model: type[BaseModel]) -> Callable[[Handler], Handler]:
    """A POST that queues runs (201) or, with ``dry_run``, only validates and estimates them (200)."""
    dry_run = {"model": model, "description": "dry run: validated and estimated, nothing queued"}
    return router.post(path, status_code=201, response_model=model, responses={200: dry_run})
