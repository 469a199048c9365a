"""What route handlers get injected: the app's settings, store, queue and catalog (set by ``create_app``).

Handlers that call the store are plain ``def`` functions: FastAPI runs them in its thread pool, so a
blocking database call never stalls the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

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


def app_state(name: str) -> Callable[[Request], Any]:
    """A dependency that hands a handler ``request.app.state.<name>`` (one of the objects ``create_app`` sets);
    each use below declares its type."""

    def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    get.__name__ = f"get_{name}"
    return get


get_settings_dep: Callable[[Request], Settings] = app_state("settings")
get_store: Callable[[Request], Store] = app_state("store")
get_queue: Callable[[Request], RunQueue] = app_state("queue")
get_summary_cache: Callable[[Request], SummaryCache] = app_state("summary_cache")
get_metrics_cache: Callable[[Request], MetricsCache] = app_state("metrics_cache")
get_catalog_dep: Callable[[Request], Catalog] = app_state("catalog")

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
