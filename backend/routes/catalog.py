"""The catalog: datasets, models, arms and training settings a pilot can choose, with parameters and defaults."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

from backend.auth.guard import require
from backend.auth.roles import Permission
from backend.catalog import Catalog
from backend.errors import error_responses
from backend.routes.deps import CatalogDep

router = APIRouter(prefix="/catalog", tags=["catalog"], responses=error_responses(401, 403, 503))


@router.get("", dependencies=[require(Permission.READ)])
def get_catalog(catalog: CatalogDep) -> dict[str, Any]:
    """Get the whole catalog: datasets, models, arms, training settings and pairing limits."""
    return catalog.data


def _part(name: str, part: Callable[[Catalog], dict[str, Any]], summary: str) -> Callable[[Catalog], dict[str, Any]]:
    def read(catalog: CatalogDep) -> dict[str, Any]:
        return part(catalog)

    read.__name__, read.__doc__ = name, summary  # FastAPI names the operation and writes its docs from these
    return read


# One route per part of the catalog: (path, operation, the part, what the docs say).
_PARTS: tuple[tuple[str, str, Callable[[Catalog], dict[str, Any]], str], ...] = (
    (
        "/datasets",
        "list_datasets",
        lambda catalog: catalog.datasets,
        "List datasets with their parameters (type, bounds, default, help) and sizes.",
    ),
    ("/models", "list_models", lambda catalog: catalog.models, "List models with their parameters and drop sites."),
    (
        "/arms",
        "list_arms",
        lambda catalog: catalog.arms,
        "List regularizer arms with their parameters, defaults and passes per step.",
    ),
    (
        "/training",
        "list_training",
        lambda catalog: catalog.training,
        "List the shared training settings with their bounds and defaults (seed and width are set per pilot).",
    ),
)
for path, name, part, summary in _PARTS:
    router.get(path, dependencies=[require(Permission.READ)])(_part(name, part, summary))
