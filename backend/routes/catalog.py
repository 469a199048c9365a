"""The catalog: datasets, models, arms and training settings a pilot can choose, with parameters and defaults."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from backend.routes.deps import CatalogDep

router = APIRouter(prefix="/catalog", tags=["catalog"])


@router.get("")
def get_catalog(catalog: CatalogDep) -> dict[str, Any]:
    """Get the whole catalog: datasets, models, arms, training settings and pairing limits."""
    return catalog.data


@router.get("/datasets")
def list_datasets(catalog: CatalogDep) -> dict[str, Any]:
    """List datasets with their parameters (type, bounds, default, help) and sizes."""
    return catalog.datasets


@router.get("/models")
def list_models(catalog: CatalogDep) -> dict[str, Any]:
    """List models with their parameters and drop sites."""
    return catalog.models


@router.get("/arms")
def list_arms(catalog: CatalogDep) -> dict[str, Any]:
    """List regularizer arms with their parameters, defaults and passes per step."""
    return catalog.arms


@router.get("/training")
def list_training(catalog: CatalogDep) -> dict[str, Any]:
    """List the shared training settings with their bounds and defaults (seed and width are set per pilot)."""
    return catalog.training
