"""The catalog of datasets, models, arms and training settings, and the validation of a pilot against it.

The API cannot import torch or rblock (DESIGN §1), so it reads ``backend/catalog.json``, which
``python -m rblock.catalog`` writes from the library (a test keeps the two equal). Validation here mirrors
``rblock.config.TrainConfig`` and ``rblock.regularizer.resolve_params``: a pilot that passes it builds a
valid config for every run, so bad input fails at submission, not hours later on a worker. Every problem
is reported at once, each with its field path (``arms[2].params.drop_prob``) and the allowed values.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from backend.schemas import ArmSpec, PilotCreate, clean_text

CATALOG_PATH = Path(__file__).with_name("catalog.json")
# Set per run or at the top level of the pilot, not in its shared ``training`` settings.
# Integers beyond 64 bits are nonsense for every parameter here, and would overflow the estimate's floats.
MAX_INT = 2**63 - 1
NOT_IN_TRAINING = {"seed": "set the pilot's seeds instead", "width": "set width at the top level of the pilot"}


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class CatalogError(ValueError):
    """A pilot the catalog rejects; ``errors`` has one entry per problem (the API answers 422)."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class ResolvedArm:
    name: str
    regularizer: str
    params: dict[str, Any]
    passes: int


@dataclass(frozen=True)
class ResolvedPilot:
    """A valid pilot with every default filled in: what each run's config is built from."""

    dataset_params: dict[str, Any]
    training: dict[str, Any]
    arms: list[ResolvedArm]
    baseline_arm: str


def show(value: Any, limit: int = 60) -> str:
    """A short, always-encodable repr of user input for messages."""
    try:
        text = repr(value)
    except ValueError:  # an integer too long to print
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(spec: dict[str, Any]) -> str:
    """The allowed values of a field, in words: 'a number >= 0 and < 1', 'one of linear, constant'."""
    if "allowed" in spec:
        return str(spec["allowed"])
    if "enum" in spec:
        words = ", ".join(json.dumps(v) if not isinstance(v, str) else v for v in spec["enum"])
        text = f"one of {words}"
    else:
        kind = spec.get("type", "value")
        text = {"boolean": "true or false", "integer": "an integer", "number": "a number"}.get(kind, f"a {kind}")
        bounds = [
            f"{op} {_num(spec[key])}"
            for key, op in (
                ("minimum", ">="),
                ("exclusive_minimum", ">"),
                ("maximum", "<="),
                ("exclusive_maximum", "<"),
            )
            if key in spec
        ]
        if bounds:
            text += " " + " and ".join(bounds)
    return text + (" or null" if spec.get("nullable") else "")


def _num(bound: Any) -> str:
    return str(int(bound)) if isinstance(bound, float) and bound.is_integer() else str(bound)


def value_ok(spec: dict[str, Any], value: Any) -> bool:
    """Whether ``value`` fits ``spec`` (type, enum, bounds), as ``rblock.config._field_ok`` decides."""
    if value is None:
        return bool(spec.get("nullable"))
    kind = spec.get("type")
    if "enum" in spec and not any(type(value) is type(v) and value == v for v in spec["enum"]):
        return False
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "string":
        try:
            return isinstance(value, str) and clean_text(value) is value
        except ValueError:
            return False
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if kind == "integer" and not isinstance(value, int):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    if isinstance(value, int) and abs(value) > MAX_INT:
        return False
    checks = (
        ("minimum", lambda b: value >= b),
        ("maximum", lambda b: value <= b),
        ("exclusive_minimum", lambda b: value > b),
        ("exclusive_maximum", lambda b: value < b),
    )
    return all(check(spec[key]) for key, check in checks if key in spec)


class Catalog:
    """The choices a pilot can make, loaded from JSON; validates and resolves pilots."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.datasets: dict[str, dict[str, Any]] = data["datasets"]
        self.models: dict[str, dict[str, Any]] = data["models"]
        self.arms: dict[str, dict[str, Any]] = data["arms"]
        self.training: dict[str, dict[str, Any]] = data["training"]
        self.pairing_limits: dict[str, float] = data["pairing_limits"]

    @classmethod
    def load(cls, path: Path = CATALOG_PATH) -> Catalog:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def training_defaults(self) -> dict[str, Any]:
        return {name: spec["default"] for name, spec in self.training.items() if name not in NOT_IN_TRAINING}

    def validate(self, pilot: PilotCreate) -> ResolvedPilot:
        """Check a pilot against the catalog and fill in defaults; raise :class:`CatalogError` listing all problems."""
        errors: list[FieldError] = []
        dataset_params: dict[str, Any] = {}
        if pilot.dataset not in self.datasets:
            errors.append(
                FieldError("dataset", f"unknown dataset {show(pilot.dataset)}; allowed: {_names(self.datasets)}")
            )
        else:
            params = self.datasets[pilot.dataset]["params"]
            dataset_params = self._params(
                "dataset_params", f"dataset {pilot.dataset!r}", params, pilot.dataset_params, errors
            )
        if pilot.model not in self.models:
            errors.append(FieldError("model", f"unknown model {show(pilot.model)}; allowed: {_names(self.models)}"))
        if "width" in self.training and not value_ok(self.training["width"], pilot.width):
            errors.append(FieldError("width", f"must be {describe(self.training['width'])} (got {show(pilot.width)})"))
        training = self._training(pilot.training, errors)
        arms = [self._arm(index, arm, errors) for index, arm in enumerate(pilot.arms)]
        seen: dict[str, int] = {}
        for index, arm in enumerate(pilot.arms):
            if arm.label in seen:
                errors.append(
                    FieldError(
                        f"arms[{index}].name",
                        f"{show(arm.label)} is already the name of arms[{seen[arm.label]}]: arm names must be unique "
                        "(set name to tell two arms of one regularizer apart)",
                    )
                )
            seen.setdefault(arm.label, index)
        baseline = self._baseline(pilot, errors)
        if errors:
            raise CatalogError(errors)
        return ResolvedPilot(
            dataset_params=dataset_params,
            training=training,
            arms=[arm for arm in arms if arm is not None],
            baseline_arm=baseline,
        )

    def _params(
        self, path: str, owner: str, specs: dict[str, Any], given: dict[str, Any], errors: list[FieldError]
    ) -> dict[str, Any]:
        """Check named parameters against their specs and return them with the defaults filled in."""
        for key in given:
            if key not in specs:
                allowed = _names(specs) or "none (it takes no parameters)"
                errors.append(FieldError(f"{path}.{_key(key)}", f"unknown parameter for {owner}; allowed: {allowed}"))
        resolved: dict[str, Any] = {}
        for key, spec in specs.items():
            if key not in given:
                if spec.get("required"):
                    errors.append(
                        FieldError(f"{path}.{key}", f"required for {owner}: {spec.get('help', describe(spec))}")
                    )
                resolved[key] = spec.get("default")
                continue
            value = given[key]
            if not value_ok(spec, value):
                allowed = describe(spec) + (" and at most 2^63-1" if isinstance(value, int) and value > MAX_INT else "")
                errors.append(FieldError(f"{path}.{key}", f"must be {allowed} (got {show(value)})"))
            resolved[key] = value
        return resolved

    def _training(self, given: dict[str, Any], errors: list[FieldError]) -> dict[str, Any]:
        for key, why in NOT_IN_TRAINING.items():
            if key in given:
                errors.append(FieldError(f"training.{key}", why))
        specs = {name: spec for name, spec in self.training.items() if name not in NOT_IN_TRAINING}
        count = len(errors)
        training = self._params(
            "training", "training", specs, {k: v for k, v in given.items() if k not in NOT_IN_TRAINING}, errors
        )
        if len(errors) > count:
            return training  # the cross-field checks below need valid values
        if not training["warmup_epochs"] < training["epochs"]:
            errors.append(
                FieldError(
                    "training.warmup_epochs",
                    f"must be less than epochs ({training['epochs']}) (got {show(training['warmup_epochs'])})",
                )
            )
        if training["optimizer"] == "sgd" and training["nesterov"] and training["momentum"] == 0:
            errors.append(
                FieldError(
                    "training.nesterov", "needs momentum > 0 with sgd: set momentum (e.g. 0.9) or nesterov false"
                )
            )
        return training

    def _arm(self, index: int, arm: ArmSpec, errors: list[FieldError]) -> ResolvedArm | None:
        path = f"arms[{index}]"
        if arm.regularizer not in self.arms:
            errors.append(
                FieldError(
                    f"{path}.regularizer", f"unknown regularizer {show(arm.regularizer)}; allowed: {_names(self.arms)}"
                )
            )
            return None
        spec = self.arms[arm.regularizer]
        count = len(errors)
        params = self._params(f"{path}.params", f"regularizer {arm.regularizer!r}", spec["params"], arm.params, errors)
        if len(errors) == count and "pairing" in params:
            self._pairing(path, spec, params, errors)
        return ResolvedArm(name=arm.label, regularizer=arm.regularizer, params=params, passes=int(spec["passes"]))

    def _pairing(self, path: str, spec: dict[str, Any], params: dict[str, Any], errors: list[FieldError]) -> None:
        """The rates each pairing rule can realise (``rblock.pairing.check_pairing_rate``)."""
        pairing, rate = params["pairing"], params["drop_prob"]
        if pairing == "disjoint":
            blocks = bool(spec.get("spatial_blocks"))
            limit = self.pairing_limits["disjoint_blocks" if blocks else "disjoint_units"]
            if rate > limit + 1e-9:
                kind = "spatial blocks" if blocks else "channels and elements"
                errors.append(
                    FieldError(
                        f"{path}.params.drop_prob",
                        f"pairing 'disjoint' on {kind} needs drop_prob <= {limit} (got {rate}): a second mask that "
                        "avoids the first cannot reach a higher rate",
                    )
                )
        elif pairing == "complementary":
            target = self.pairing_limits["complementary_rate"]
            if abs(rate - target) > 1e-9:
                errors.append(
                    FieldError(
                        f"{path}.params.drop_prob",
                        f"pairing 'complementary' keeps each unit in exactly one pass, so drop_prob must be {target} "
                        f"(got {rate})",
                    )
                )
            if params.get("schedule") != "constant":
                errors.append(
                    FieldError(
                        f"{path}.params.schedule",
                        f"pairing 'complementary' needs schedule 'constant' (got {show(params.get('schedule'))}): "
                        "a ramped rate cannot stay at 0.5",
                    )
                )

    def _baseline(self, pilot: PilotCreate, errors: list[FieldError]) -> str:
        labels = [arm.label for arm in pilot.arms]
        if pilot.baseline_arm is not None:
            if pilot.baseline_arm not in labels:
                errors.append(
                    FieldError(
                        "baseline_arm", f"no arm is named {show(pilot.baseline_arm)}; allowed: {', '.join(labels)}"
                    )
                )
            return pilot.baseline_arm
        if "none" in labels:
            return "none"
        unregularized = [arm.label for arm in pilot.arms if arm.regularizer == "none"]
        return unregularized[0] if unregularized else labels[0]


def _names(specs: dict[str, Any]) -> str:
    return ", ".join(sorted(specs))


def _key(key: str) -> str:
    """A user's dictionary key in a field path: as is when it is a plain name, else quoted."""
    return key if key.isidentifier() and key.isascii() else show(key)


@lru_cache(maxsize=1)
def get_catalog() -> Catalog:
    """The catalog shipped with the backend, read once."""
    return Catalog.load()
