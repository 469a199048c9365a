"""Pilot validation against the catalog (no torch in the backend), checked against the library it mirrors,
and the cost estimate."""

from __future__ import annotations

import itertools
import statistics
from typing import Any

import pytest

from backend.catalog import Catalog, CatalogError, describe, get_catalog, value_ok
from backend.estimate import (
    FORWARD_SHARE,
    MAX_SPEEDUP,
    REFERENCE_SAMPLES_PER_S,
    STEP_FACTOR,
    estimate_pilot,
    eval_set_size,
    reference_throughput,
    stability_evaluations,
    train_size,
)
from backend.schemas import Estimate, PilotCreate
from backend.store.entities import ThroughputPoint
from backend.submission import run_config


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return get_catalog()


def _pilot(**overrides: Any) -> PilotCreate:
    fields: dict[str, Any] = {"name": "p", "dataset": "digits", "arms": [{"regularizer": "none"}]}
    fields.update(overrides)
    return PilotCreate.model_validate(fields)


def _errors(catalog: Catalog, **overrides: Any) -> dict[str, str]:
    with pytest.raises(CatalogError) as raised:
        catalog.validate(_pilot(**overrides))
    return {error.field: error.message for error in raised.value.errors}


def test_defaults_are_filled_in(catalog: Catalog) -> None:
    resolved = catalog.validate(_pilot(dataset="shapes", arms=[{"regularizer": "rblock_b"}], training={"lr": 0.1}))
    assert resolved.dataset_params == {"difficulty": 0.5, "n_test": 1000, "n_train": 5000}
    assert resolved.training["lr"] == 0.1 and resolved.training["epochs"] == 15
    assert "seed" not in resolved.training and "width" not in resolved.training
    (arm,) = resolved.arms
    assert arm.params == {"alpha": 1.0, "drop_prob": 0.25, "groups": 8, "pairing": "disjoint", "schedule": "linear"}
    assert arm.passes == 2 and resolved.baseline_arm == "rblock_b"


def test_describe_says_what_is_allowed() -> None:
    assert describe({"type": "number", "minimum": 0, "exclusive_maximum": 1}) == "a number >= 0 and < 1"
    assert describe({"type": "string", "enum": ["linear", "constant"]}) == "one of linear, constant"
    assert describe({"type": "integer", "minimum": 1, "maximum": 64.0}) == "an integer >= 1 and <= 64"
    assert describe({"type": "boolean", "nullable": True}) == "true or false or null"
    assert describe({"type": "integer", "allowed": "1 or 3", "enum": [1, 3]}) == "1 or 3"


@pytest.mark.parametrize(
    ("spec", "good", "bad"),
    [
        ({"type": "integer", "minimum": 1}, [1, 10**18], [0, 1.0, True, "1", None, 2**63]),
        ({"type": "number", "exclusive_minimum": 0, "maximum": 1}, [1, 0.5, 1e-9], [0, 1.5, float("nan"), False]),
        ({"type": "boolean"}, [True, False], [0, 1, "true", None]),
        ({"type": "string", "enum": ["a", "b"]}, ["a"], ["c", 1, None]),
        ({"type": "string"}, ["/data", "ü"], ["a\x00b", "\ud800", 3]),
        ({"type": "integer", "enum": [1, 3]}, [1, 3], [2, 1.0, True]),
        ({"type": "boolean", "nullable": True}, [None, True], ["null"]),
    ],
)
def test_value_ok(spec: dict[str, Any], good: list[Any], bad: list[Any]) -> None:
    assert all(value_ok(spec, value) for value in good)
    assert not any(value_ok(spec, value) for value in bad)


def test_errors_name_the_field_path_and_the_allowed_values(catalog: Catalog) -> None:
    errors = _errors(
        catalog,
        arms=[
            {"regularizer": "none"},
            {"regularizer": "dropblock", "params": {"block_size": 100}},
            {"regularizer": "rblock_s", "params": {"drop_prob": 0.35}},
        ],
    )
    assert errors == {
        "arms[1].params.block_size": "must be an integer >= 1 and <= 64 (got 100)",
        "arms[2].params.drop_prob": "pairing 'disjoint' on spatial blocks needs drop_prob <= 0.3 (got 0.35): a second "
        "mask that avoids the first cannot reach a higher rate",
    }
    odd = _errors(catalog, dataset_params={"bad key!": 1})
    assert list(odd) == ["dataset_params.'bad key!'"]


def test_baseline_rules(catalog: Catalog) -> None:
    arms = [{"regularizer": "dropout"}, {"name": "none", "regularizer": "rdrop"}, {"regularizer": "none", "name": "b"}]
    assert catalog.validate(_pilot(arms=arms)).baseline_arm == "none"  # the arm *named* none comes first
    assert catalog.validate(_pilot(arms=arms[::2])).baseline_arm == "b"  # else the unregularized arm
    assert catalog.validate(_pilot(arms=arms[:1])).baseline_arm == "dropout"  # else the first
    assert "baseline_arm" in _errors(catalog, arms=arms, baseline_arm="nope")


# --- the catalog agrees with the library it mirrors ---------------------------------------------------------

PAIRING_CASES = list(
    itertools.product(
        ["rdrop", "rblock_b", "rblock_s"],
        ["independent", "disjoint", "complementary"],
        [0.0, 0.1, 0.3, 0.31, 0.5, 0.51, 0.9],
        ["linear", "constant"],
    )
)


@pytest.mark.parametrize(("arm", "pairing", "drop_prob", "schedule"), PAIRING_CASES)
def test_arm_validation_matches_the_library(
    catalog: Catalog, arm: str, pairing: str, drop_prob: float, schedule: str
) -> None:
    from rblock.regularizer import resolve_params

    params = {"pairing": pairing, "drop_prob": drop_prob, "schedule": schedule}
    try:
        expected = resolve_params(arm, dict(params))
    except ValueError:
        expected = None
    try:
        resolved = catalog.validate(_pilot(arms=[{"regularizer": arm, "params": params}])).arms[0].params
    except CatalogError:
        resolved = None
    assert resolved == expected


@pytest.mark.parametrize(
    ("dataset", "params"),
    [
        ("digits", {}),
        ("shapes", {"n_train": 200, "difficulty": 1}),
        ("shapes", {"n_train": 9}),
        ("shapes", {"difficulty": 1.5}),
        ("cifar10", {"max_train": 1000}),
        ("cifar10", {"max_train": -1}),
        ("imagefolder", {"path": "/data", "channels": 1, "image_size": 64}),
        ("imagefolder", {"path": "/data", "channels": 2}),
        ("imagefolder", {"path": "/data", "test_fraction": 0.995}),
        ("imagefolder", {}),
    ],
)
def test_dataset_validation_is_no_looser_than_the_library(
    catalog: Catalog, dataset: str, params: dict[str, Any]
) -> None:
    from rblock.data.dataset import _REGISTRY
    from rblock.data.spec import validate_params

    try:
        resolved = catalog.validate(_pilot(dataset=dataset, dataset_params=params)).dataset_params
    except CatalogError:
        return  # the library may be more lenient (it converts 5.0 to 5); never the other way round
    assert resolved == validate_params(_REGISTRY[dataset], params)


@pytest.mark.parametrize(
    "pilot",
    [
        {"arms": [{"regularizer": name} for name in ("none", "dropout", "spatial_dropout", "dropblock")]},
        {"arms": [{"regularizer": name} for name in ("rdrop", "rblock_b", "rblock_s")], "width": 8},
        {
            "dataset": "shapes",
            "model": "resnet18",
            "dataset_params": {"n_train": 100},
            "training": {"optimizer": "adamw", "lr_schedule": "onecycle", "augment": True, "warmup_epochs": 1.5},
            "arms": [
                {
                    "regularizer": "rdrop",
                    "params": {"pairing": "complementary", "drop_prob": 0.5, "schedule": "constant"},
                }
            ],
        },
    ],
)
def test_run_configs_are_valid_train_configs(catalog: Catalog, pilot: dict[str, Any]) -> None:
    from rblock.config import TrainConfig

    request = _pilot(**pilot)
    resolved = catalog.validate(request)
    for arm in resolved.arms:
        config = run_config(request, resolved, arm, seed=3)
        assert TrainConfig.from_dict(config).to_dict() == config


def test_training_validation_matches_the_library(catalog: Catalog) -> None:
    from rblock.config import ConfigError, TrainConfig

    cases: list[dict[str, Any]] = [
        {"epochs": 3, "warmup_epochs": 3},
        {"epochs": 3, "warmup_epochs": 2.9},
        {"momentum": 0},
        {"momentum": 0, "nesterov": False},
        {"optimizer": "adamw", "momentum": 0},
        {"label_noise": 1},
        {"batch_size": 1},
        {"augment": None},
        {"eval_every": -1},
        {"stability_masks": 65},
    ]
    for training in cases:
        request = _pilot(training=training)
        try:
            resolved = catalog.validate(request)
        except CatalogError:
            accepted = False
        else:
            accepted = True
            TrainConfig.from_dict(run_config(request, resolved, resolved.arms[0], seed=0))
        try:
            TrainConfig.from_dict({**training, "dataset": "digits"})
            library = True
        except ConfigError:
            library = False
        assert accepted == library, training


# --- the estimate -------------------------------------------------------------------------------------------


def test_train_sizes(catalog: Catalog) -> None:
    assert train_size(catalog, "digits", {}) == 1437
    assert train_size(catalog, "shapes", {"n_train": 300}) == 300
    assert train_size(catalog, "cifar10", {"max_train": 0}) == 50_000
    assert train_size(catalog, "cifar10", {"max_train": 1000}) == 1000
    assert train_size(catalog, "cifar10", {"max_train": 10**6}) == 50_000
    assert train_size(catalog, "imagefolder", {"path": "/x"}) is None


def test_reference_throughput_scales_with_area_and_width(catalog: Catalog) -> None:
    ref = REFERENCE_SAMPLES_PER_S[("small_cnn", "cpu")]
    assert reference_throughput(catalog, model="small_cnn", width=None, device_kind="cpu", side=32) == ref
    assert reference_throughput(catalog, model="small_cnn", width=64, device_kind="cpu", side=32) == ref / 4
    assert reference_throughput(catalog, model="small_cnn", width=None, device_kind="cpu", side=64) == ref / 4
    assert reference_throughput(catalog, model="small_cnn", width=None, device_kind="cpu", side=8) == MAX_SPEEDUP * ref
    resnet = reference_throughput(catalog, model="resnet18", width=None, device_kind="cuda", side=32)
    assert resnet == REFERENCE_SAMPLES_PER_S[("resnet18", "cuda")]
    assert reference_throughput(catalog, model="resnet18", width=None, device_kind="mps", side=32) is None


def _estimate(catalog: Catalog, request: PilotCreate, **overrides: Any) -> Estimate:
    fields: dict[str, Any] = {
        "resolved": catalog.validate(request),
        "dataset": request.dataset,
        "model": "small_cnn",
        "width": None,
        "seeds": 3,
        "queue": "cpu",
        "history": [],
        "price_per_hour": 0.5,
        "budget_cap": None,
    }
    fields.update(overrides)
    return estimate_pilot(catalog, **fields)


def test_estimate_counts_passes_seeds_price_and_measured_step_factors(catalog: Catalog) -> None:
    request = _pilot(
        dataset="cifar10",
        dataset_params={"max_train": 10_000, "max_test": 2_000},
        training={"epochs": 10},
        arms=[{"regularizer": "dropout"}, {"regularizer": "rblock_s"}],
    )
    estimate = _estimate(catalog, request)
    dropout, rblock = estimate.arms
    assert dropout.samples_per_run == 100_000 and rblock.samples_per_run == 200_000
    assert dropout.device_hours and rblock.device_hours and dropout.eval_hours
    baseline = REFERENCE_SAMPLES_PER_S[("small_cnn", "cpu")]
    assert dropout.device_hours == pytest.approx(3 * 100_000 / (baseline / STEP_FACTOR["dropout"]) / 3600)
    assert rblock.device_hours == pytest.approx(dropout.device_hours * STEP_FACTOR["rblock_s"] / STEP_FACTOR["dropout"])
    assert estimate.cost == pytest.approx(0.5 * (dropout.device_hours + rblock.device_hours))
    assert estimate.runs == 6 and estimate.basis == "reference"
    # Evaluation on top: 2,000 test images each of 10 epochs, plus K = 8 sub-models of them once at the end.
    looks = 2_000 * (10 + 8)
    assert dropout.eval_hours == pytest.approx(3 * looks * FORWARD_SHARE / baseline / 3600)
    assert estimate.eval_hours == pytest.approx(2 * dropout.eval_hours)
    none = _estimate(catalog, _pilot(dataset="cifar10", dataset_params={"max_test": 2_000}, training={"epochs": 10}))
    assert none.arms[0].eval_hours == pytest.approx(3 * 2_000 * 10 * FORWARD_SHARE / baseline / 3600)  # no sub-models


def test_estimate_learns_from_history_per_regularizer(catalog: Catalog) -> None:
    request = _pilot(arms=[{"regularizer": "none"}, {"regularizer": "rblock_s"}, {"regularizer": "rblock_b"}])
    history = [
        ThroughputPoint(1000.0, "none"),
        ThroughputPoint(3000.0, "none"),
        ThroughputPoint(-1.0, "none"),  # ignored
        ThroughputPoint(800.0, "rblock_s"),
    ]
    estimate = _estimate(catalog, request, history=history, queue="gpu", price_per_hour=None)
    assert estimate.basis == "history" and estimate.history_runs == 3 and estimate.device_kind == "cuda"
    none, rblock_s, rblock_b = estimate.arms
    assert none.samples_per_second == 2000.0  # the median of its own runs
    assert rblock_s.samples_per_second == 2 * 800.0  # its own run, in pass-samples/s
    # rblock_b has no runs: the machine's speed from the others (as baseline-equivalents), its step factor.
    baseline = statistics.median([1000.0, 3000.0, 800.0 * STEP_FACTOR["rblock_s"]])
    assert rblock_b.samples_per_second == pytest.approx(2 * baseline / STEP_FACTOR["rblock_b"])
    assert estimate.cost is None and any("no price" in note for note in estimate.notes)


def test_eval_set_size_and_stability_looks(catalog: Catalog) -> None:
    assert eval_set_size(catalog, "digits", {}) == 360
    assert eval_set_size(catalog, "shapes", {"n_test": 700}) == 700
    assert (
        eval_set_size(catalog, "cifar10", {"max_test": 500}) == 500 and eval_set_size(catalog, "cifar10", {}) == 10_000
    )
    assert eval_set_size(catalog, "imagefolder", {"path": "/x"}) is None
    assert [stability_evaluations(10, every) for every in (0, 1, 3, 5, 20)] == [1, 10, 4, 2, 1]


def test_a_timm_model_is_accepted_with_its_own_widths_and_weights(catalog: Catalog) -> None:
    resolved = catalog.validate(_pilot(model="timm/resnet18", training={"weights": "hub"}))
    assert resolved.training["weights"] == "hub"
    errors = _errors(catalog, model="timm/resnet18", width=16)
    assert errors == {"width": "must be null for 'timm/resnet18': its widths are its own (got 16)"}
    assert "did you mean" in _errors(catalog, model="timm/resnet1800")["model"]


def test_hub_weights_need_a_timm_model(catalog: Catalog) -> None:
    errors = _errors(catalog, model="small_cnn", training={"weights": "hub"})
    assert set(errors) == {"training.weights"} and "timm/" in errors["training.weights"]
    assert catalog.validate(_pilot(training={"weights": "starts/small.pt"})).training["weights"] == "starts/small.pt"
