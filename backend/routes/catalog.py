"""The catalog: datasets, models, arms and training settings a pilot can choose, with parameters and defaults."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from backend.auth.guard import require
from backend.auth.roles import Permission
from backend.errors import error_responses
from backend.routes.deps import CatalogDep

router = APIRouter(prefix="/catalog", tags=["catalog"], responses=error_responses(401, 403, 503))


@router.get("", dependencies=[require(Permission.READ)])
def get_catalog(catalog: CatalogDep) -> dict[str, Any]:
    """Get the whole catalog: datasets, models, arms, training settings and pairing limits."""
    return catalog.data


@router.get("/datasets", dependencies=[require(Permission.READ)])
def list_datasets(catalog: CatalogDep) -> dict[str, Any]:
    """List datasets with their parameters (type, bounds, default, help) and sizes."""
    return catalog.datasets


@router.get("/models", dependencies=[require(Permission.READ)])
def list_models(catalog: CatalogDep) -> dict[str, Any]:
    """List models with their parameters and drop sites."""
    return catalog.models


@router.get("/arms", dependencies=[require(Permission.READ)])
def list_arms(catalog: CatalogDep) -> dict[str, Any]:
    """List regularizer arms with their parameters, defaults and passes per step."""
    return catalog.arms


@router.get("/training", dependencies=[require(Permission.READ)])
def list_training(catalog: CatalogDep) -> dict[str, Any]:
    """List the shared training settings with their bounds and defaults (seed and width are set per pilot)."""
    return catalog.training
