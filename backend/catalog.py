"""The catalog of datasets, models, arms and training settings, and the validation of a pilot against it.

The API cannot import torch or rblock (docs/design.md §1); the choices, their checks and the rules across them are
``pilot_spec``'s, which ``rblock.config.TrainConfig`` and ``rblock.regularizer.resolve_params`` run too: a
pilot that passes here builds a valid config for every run, so bad input fails at submission, not hours
later on a worker. Every problem is reported at once, each with its field path
(``arms[2].params.drop_prob``) and the allowed values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import lru_cache
from typing import Any

from backend.schemas import ArmSpec, PilotCreate
from backend.store.entities import ArmInput
from pilot_spec.arms import ARMS, arm_rule_problems
from pilot_spec.catalog import catalog_document
from pilot_spec.data_root import WEIGHTS_FIELD
from pilot_spec.datasets import DATASETS
from pilot_spec.fields import Field, Problem
from pilot_spec.models import model_problem, model_setting_problems
from pilot_spec.text import show
from pilot_spec.training import NOT_IN_PILOT_TRAINING, TRAINING, training_problems

__all__ = ["Catalog", "CatalogError", "FieldError", "ResolvedArm", "ResolvedPilot", "describe", "show", "value_ok"]

# Set per run or at the top level of the pilot, not in its shared ``training`` settings.
NOT_IN_TRAINING = NOT_IN_PILOT_TRAINING


# One problem with a pilot: its field path and why (the API's 422 lists them).
FieldError = Problem


class CatalogError(ValueError):
    """A pilot the catalog rejects; ``errors`` has one entry per problem (the API answers 422)."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class ResolvedArm(ArmInput):
    """A valid arm with its defaults filled in: what the store creates, and the forward passes a step makes
    (which the estimate counts)."""

    passes: int = dataclass_field(kw_only=True)


@dataclass(frozen=True)
class ResolvedPilot:
    """A valid pilot with every default filled in: what each run's config is built from."""

    dataset_params: dict[str, Any]
    training: dict[str, Any]
    arms: list[ResolvedArm]
    baseline_arm: str


def describe(spec: Mapping[str, Any]) -> str:
    """The allowed values of a catalog entry, in words: 'a number >= 0 and < 1', 'one of linear, constant'."""
    return Field.from_catalog(spec).describe()


def value_ok(spec: Mapping[str, Any], value: Any) -> bool:
    """Whether ``value`` fits a catalog entry (type, enum, bounds), as the library decides."""
    return Field.from_catalog(spec).ok(value)


class Catalog:
    """The choices a pilot can make (``pilot_spec``'s tables); validates and resolves pilots.

    ``data`` is the catalog as the API lists it; ``datasets``, ``models``, ``arms`` and ``training`` are its
    parts, for the estimate's sizes and widths.
    """

    def __init__(self) -> None:
        self.data = catalog_document()
        self.datasets: dict[str, dict[str, Any]] = self.data["datasets"]
        self.models: dict[str, dict[str, Any]] = self.data["models"]
        self.arms: dict[str, dict[str, Any]] = self.data["arms"]
        self.training: dict[str, dict[str, Any]] = self.data["training"]
        self.pairing_limits: dict[str, float] = self.data["pairing_limits"]

    def training_defaults(self) -> dict[str, Any]:
        return {name: field.default for name, field in TRAINING.items() if name not in NOT_IN_TRAINING}

    def validate(self, pilot: PilotCreate) -> ResolvedPilot:
        """Check a pilot against the catalog and fill in defaults; raise :class:`CatalogError` listing all problems."""
        errors: list[FieldError] = []
        dataset_params: dict[str, Any] = {}
        if pilot.dataset not in DATASETS:
            errors.append(FieldError("dataset", f"unknown dataset {show(pilot.dataset)}; allowed: {_names(DATASETS)}"))
        else:
            params = DATASETS[pilot.dataset].params
            dataset_params = self._params(
                "dataset_params", f"dataset {pilot.dataset!r}", params, pilot.dataset_params, errors
            )
        if (problem := model_problem(pilot.model)) is not None:
            errors.append(FieldError("model", problem))
        if (problem := TRAINING["width"].check(pilot.width)) is not None:
            errors.append(FieldError("width", problem))
        training = self._training(pilot.training, errors)
        if model_problem(pilot.model) is None:
            where = {"width": "width", "weights": WEIGHTS_FIELD}  # width is top-level, weights a training setting
            for setting, problem in model_setting_problems(pilot.model, pilot.width, training.get("weights")):
                errors.append(FieldError(where[setting], problem))
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
        self, path: str, owner: str, fields: Mapping[str, Field], given: dict[str, Any], errors: list[FieldError]
    ) -> dict[str, Any]:
        """Check named parameters against their fields and return them with the defaults filled in."""
        for key in given:
            if key not in fields:
                allowed = _names(fields) or "none (it takes no parameters)"
                errors.append(FieldError(f"{path}.{_key(key)}", f"unknown parameter for {owner}; allowed: {allowed}"))
        resolved: dict[str, Any] = {}
        for key, field in fields.items():
            if key not in given:
                if field.required:
                    errors.append(
                        FieldError(f"{path}.{key}", f"required for {owner}: {field.help or field.describe()}")
                    )
                resolved[key] = field.default
                continue
            value = given[key]
            if (problem := field.check(value)) is not None:
                errors.append(FieldError(f"{path}.{key}", problem))
            resolved[key] = value
        return resolved

    def _training(self, given: dict[str, Any], errors: list[FieldError]) -> dict[str, Any]:
        for key, why in NOT_IN_TRAINING.items():
            if key in given:
                errors.append(FieldError(f"training.{key}", why))
        fields = {name: field for name, field in TRAINING.items() if name not in NOT_IN_TRAINING}
        count = len(errors)
        training = self._params(
            "training", "training", fields, {k: v for k, v in given.items() if k not in NOT_IN_TRAINING}, errors
        )
        if len(errors) == count:  # the rules across settings need each setting valid
            errors.extend(_under("training", training_problems(training)))
        return training

    def _arm(self, index: int, arm: ArmSpec, errors: list[FieldError]) -> ResolvedArm | None:
        path = f"arms[{index}]"
        if arm.regularizer not in ARMS:
            errors.append(
                FieldError(
                    f"{path}.regularizer", f"unknown regularizer {show(arm.regularizer)}; allowed: {_names(ARMS)}"
                )
            )
            return None
        spec = ARMS[arm.regularizer]
        count = len(errors)
        params = self._params(f"{path}.params", f"regularizer {arm.regularizer!r}", spec.params, arm.params, errors)
        if len(errors) == count:  # the rules across parameters need each parameter valid
            errors.extend(_under(f"{path}.params", arm_rule_problems(spec, params)))
        return ResolvedArm(name=arm.label, regularizer=arm.regularizer, params=params, passes=spec.passes)

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


def _names(names: Mapping[str, Any]) -> str:
    return ", ".join(sorted(names))


def _under(path: str, problems: list[Problem]) -> list[FieldError]:
    """``pilot_spec``'s problems (named by parameter) with the field path of where they sit in the pilot."""
    return [FieldError(f"{path}.{problem.field}", problem.message) for problem in problems]


def _key(key: str) -> str:
    """A user's dictionary key in a field path: as is when it is a plain name, else quoted."""
    return key if key.isidentifier() and key.isascii() else show(key)


@lru_cache(maxsize=1)
def get_catalog() -> Catalog:
    """The catalog, built once."""
    return Catalog()
