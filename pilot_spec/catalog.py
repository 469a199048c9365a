"""The catalog: every dataset, model, arm and training setting a pilot can choose, as ``GET /api/v1/catalog``
answers it (keys sorted, as the pages and clients have always received it)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from pilot_spec.arms import ARMS
from pilot_spec.datasets import DATASETS
from pilot_spec.models import MODELS
from pilot_spec.pairing import pairing_limits
from pilot_spec.training import TRAINING
from pilot_spec.zoo import describe_curated


@lru_cache(maxsize=1)
def _document_text() -> str:
    document = {
        "datasets": {name: dataset.catalog_entry() for name, dataset in DATASETS.items()},
        # The built-ins, then the curated timm models; any other ``timm/<name>`` of timm's list is accepted too.
        "models": {**{name: model.catalog_entry() for name, model in MODELS.items()}, **describe_curated()},
        "arms": {name: arm.catalog_entry() for name, arm in ARMS.items()},
        "training": {name: field.catalog_entry() for name, field in TRAINING.items()},
        "pairing_limits": pairing_limits(),
    }
    return json.dumps(document, sort_keys=True)


def catalog_document() -> dict[str, Any]:
    """A fresh copy of the catalog (callers may change theirs), every object's keys in sorted order."""
    document: dict[str, Any] = json.loads(_document_text())
    return document
