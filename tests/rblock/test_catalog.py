"""The catalog the API serves (pilot_spec) and the library's builders name exactly the same choices."""

from __future__ import annotations

from dataclasses import fields

from pilot_spec.catalog import catalog_document
from pilot_spec.training import RUN_CONFIG_FIELDS
from pilot_spec.zoo import CURATED
from rblock.config import TrainConfig
from rblock.data.dataset import _REGISTRY
from rblock.models import MODELS, create_model
from rblock.regularizer import DROP_LAYERS


def test_every_catalog_choice_has_a_builder_and_every_builder_is_in_the_catalog() -> None:
    catalog = catalog_document()
    assert set(catalog["arms"]) == set(DROP_LAYERS)
    assert set(catalog["datasets"]) == set(_REGISTRY)
    assert set(catalog["models"]) == set(MODELS) | {model.name for model in CURATED}
    for name in MODELS:  # the table's default width builds
        create_model(name, in_channels=3, num_classes=2, width=catalog["models"][name]["params"]["width"]["default"])


def test_catalog_names_every_choice() -> None:
    catalog = catalog_document()
    assert set(catalog["arms"]) == {"none", "dropout", "spatial_dropout", "dropblock", "rdrop", "rblock_b", "rblock_s"}
    assert {"small_cnn", "resnet18", "timm/resnet50", "timm/efficientnet_b0"} <= set(catalog["models"])
    assert catalog["models"]["timm/resnet50"]["params_m"] == 25.56
    assert "digits" in catalog["datasets"] and catalog["datasets"]["digits"]["train_size"] == 1437
    assert catalog["training"]["epochs"]["minimum"] == 1
    assert catalog["arms"]["rblock_s"]["params"]["drop_prob"]["exclusive_maximum"] == 1


def test_a_run_config_has_exactly_the_fields_of_train_config() -> None:
    # TrainConfig declares each field for the type checker; the training table decides which there are.
    assert {field.name for field in fields(TrainConfig)} == set(RUN_CONFIG_FIELDS)
