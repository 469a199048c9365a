"""The parameter tables (arms, datasets, models, training) and the rules across parameters."""

from __future__ import annotations

import json

import pytest

from pilot_spec import models
from pilot_spec.arms import ARMS, arm_rule_problems
from pilot_spec.catalog import catalog_document
from pilot_spec.datasets import DATASETS
from pilot_spec.fields import Field, Problem
from pilot_spec.models import MODELS, model_problem
from pilot_spec.pairing import pairing_problems
from pilot_spec.training import TRAINING, training_problems
from pilot_spec.zoo import CURATED

ALL_FIELDS: list[tuple[str, Field]] = [
    *((f"arms.{arm.name}.{key}", field) for arm in ARMS.values() for key, field in arm.params.items()),
    *((f"datasets.{ds.name}.{key}", field) for ds in DATASETS.values() for key, field in ds.params.items()),
    *((f"training.{key}", field) for key, field in TRAINING.items()),
]


@pytest.mark.parametrize(("name", "field"), ALL_FIELDS, ids=[name for name, _ in ALL_FIELDS])
def test_every_default_passes_its_own_check(name: str, field: Field) -> None:
    if field.required:
        assert field.default is None, name
    else:
        assert field.check(field.default) is None, name
    assert field.help, name
    assert Field.from_catalog(json.loads(json.dumps(field.catalog_entry()))) == field


def test_defaults_pass_the_rules_across_fields() -> None:
    assert training_problems({key: field.default for key, field in TRAINING.items()}) == []
    for arm in ARMS.values():
        assert arm_rule_problems(arm, {key: field.default for key, field in arm.params.items()}) == [], arm.name


def test_two_pass_arms_and_their_pairing() -> None:
    assert {name for name, arm in ARMS.items() if arm.passes == 2} == {"rdrop", "rblock_b", "rblock_s"}
    assert all("pairing" in arm.params for arm in ARMS.values() if arm.passes == 2)
    assert {name for name, arm in ARMS.items() if arm.spatial_blocks} == {"dropblock", "rblock_s"}


@pytest.mark.parametrize(
    ("pairing", "drop_prob", "blocks", "schedule", "fields"),
    [
        ("independent", 0.9, True, "linear", []),
        ("disjoint", 0.3, True, "linear", []),
        ("disjoint", 0.31, True, "linear", ["drop_prob"]),
        ("disjoint", 0.5, False, "linear", []),
        ("disjoint", 0.51, False, "constant", ["drop_prob"]),
        ("complementary", 0.5, False, "constant", []),
        ("complementary", 0.3, False, "linear", ["drop_prob", "schedule"]),
    ],
)
def test_pairing_rules(pairing: str, drop_prob: float, blocks: bool, schedule: str, fields: list[str]) -> None:
    problems = pairing_problems(pairing, drop_prob, spatial_blocks=blocks, schedule=schedule)
    assert [problem.field for problem in problems] == fields


def test_pairing_messages_say_the_limit() -> None:
    (problem,) = pairing_problems("disjoint", 0.35, spatial_blocks=True, schedule="linear")
    assert problem == Problem(
        "drop_prob",
        "pairing 'disjoint' on spatial blocks needs drop_prob <= 0.3 (got 0.35): a second mask that avoids the "
        "first cannot reach a higher rate",
    )


def test_training_rules() -> None:
    base = {key: field.default for key, field in TRAINING.items()}
    (warmup,) = training_problems({**base, "epochs": 2, "warmup_epochs": 2})
    assert warmup.field == "warmup_epochs" and "less than epochs (2)" in warmup.message
    (nesterov,) = training_problems({**base, "momentum": 0})
    assert nesterov.field == "nesterov" and "momentum > 0" in nesterov.message
    assert training_problems({**base, "momentum": 0, "optimizer": "adamw"}) == []


def test_model_names_by_table_and_by_family(monkeypatch: pytest.MonkeyPatch) -> None:
    assert model_problem("small_cnn") is None and model_problem("resnet18") is None
    assert model_problem("vgg") == "unknown model 'vgg'; allowed: resnet18, small_cnn"
    monkeypatch.setitem(models.MODEL_FAMILIES, "zoo/", lambda rest: None if rest == "ok" else f"no zoo model {rest!r}")
    assert model_problem("zoo/ok") is None
    assert model_problem("zoo/nope") == "no zoo model 'nope'"
    assert model_problem("vgg") is not None


def test_catalog_document_lists_every_table() -> None:
    catalog = catalog_document()
    assert list(catalog) == ["arms", "datasets", "models", "pairing_limits", "training"]  # sorted, as always
    assert set(catalog["arms"]) == set(ARMS) and set(catalog["datasets"]) == set(DATASETS)
    assert set(catalog["models"]) == set(MODELS) | {m.name for m in CURATED} and set(catalog["training"]) == set(
        TRAINING
    )
    assert catalog["models"]["resnet18"]["params"]["width"]["default"] == 64
    assert catalog["datasets"]["cifar10"]["limit_param"] == "max_train"
    assert catalog["pairing_limits"] == {"complementary_rate": 0.5, "disjoint_blocks": 0.3, "disjoint_units": 0.5}
    catalog["arms"].clear()
    assert catalog_document()["arms"], "each caller gets its own copy"
