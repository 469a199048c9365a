"""The catalog shipped with the service matches the library (regenerate: python -m rblock.catalog)."""

from __future__ import annotations

import json
from pathlib import Path

from rblock.catalog import build_catalog

SHIPPED = Path(__file__).resolve().parents[2] / "backend" / "catalog.json"


def test_shipped_catalog_is_up_to_date() -> None:
    shipped = json.loads(SHIPPED.read_text())
    assert shipped == json.loads(json.dumps(build_catalog())), (
        "backend/catalog.json is stale: run `.venv/bin/python -m rblock.catalog > backend/catalog.json`"
    )


def test_catalog_names_every_choice() -> None:
    catalog = build_catalog()
    assert set(catalog["arms"]) == {"none", "dropout", "spatial_dropout", "dropblock", "rdrop", "rblock_b", "rblock_s"}
    assert set(catalog["models"]) == {"small_cnn", "resnet18"}
    assert "digits" in catalog["datasets"] and catalog["datasets"]["digits"]["train_size"] == 1437
    assert catalog["training"]["epochs"]["minimum"] == 1
    assert catalog["arms"]["rblock_s"]["params"]["drop_prob"]["exclusive_maximum"] == 1
