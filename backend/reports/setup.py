"""The report's setup section as typeset rows, not JSON (issue 16): every label and meaning from pilot_spec.

A setting's row is its name as the API spells it, its effective value (the pilot's, or the default it ran
with, marked so) and its one-line help from the table that defines it (``pilot_spec.datasets``, ``models``,
``arms``, ``training``), so the report never states a setting the tables do not know.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from backend.store.entities import Pilot, Run
from pilot_spec.arms import ARMS
from pilot_spec.datasets import DATASETS
from pilot_spec.fields import Field
from pilot_spec.models import MODELS
from pilot_spec.money import Currency, format_money, format_number
from pilot_spec.roi_inputs import ROI_INPUTS
from pilot_spec.training import TRAINING

# Settings of TRAINING the setup shows elsewhere: the model's width beside the model, the run seed as the seeds.
_SHOWN_ELSEWHERE = frozenset({"width", "seed"})
_QUEUE_DEVICE = {"gpu": "cuda", "cpu": "cpu"}


@dataclass(frozen=True)
class SettingRow:
    """One setting: ``name``, its ``value`` as text, whether that is the ``default``, and its ``meaning``."""

    name: str
    value: str
    default: bool
    meaning: str


@dataclass(frozen=True)
class ArmRow:
    """One arm of the pilot: its name, regularizer, what the regularizer does, and its parameters as rows."""

    name: str
    regularizer: str
    description: str
    params: list[SettingRow]


@dataclass(frozen=True)
class PriceRow:
    """A device the runs used, its effective price per device-hour, and where that price comes from."""

    device: str
    price: str
    source: str


@dataclass(frozen=True)
class Setup:
    """The setup section: the dataset and model in words, then the rows of each table (see the template)."""

    dataset_description: str
    dataset_params: list[SettingRow]
    model_description: str
    width: SettingRow | None
    arms: list[ArmRow]
    training: list[SettingRow]
    prices: list[PriceRow]
    roi_inputs: list[tuple[str, str]]


def format_setting(value: Any) -> str:
    """A setting's value as a reader writes it: yes/no, numbers in positional notation, "not set" for null."""
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return format_number(value, significant=6)
    return str(value)


def _rows(fields: Mapping[str, Field], values: Mapping[str, Any]) -> list[SettingRow]:
    """One row per field, the pilot's value where it set one, else the field's default (marked)."""
    return [
        SettingRow(name, format_setting(values.get(name, field.default)), name not in values, field.help)
        for name, field in fields.items()
    ]


def _width(pilot: Pilot) -> SettingRow | None:
    model = MODELS.get(pilot.model)
    if model is None and pilot.width is None:
        return None
    width = pilot.width if pilot.width is not None else (model.default_width if model else None)
    return SettingRow("width", format_setting(width), pilot.width is None, model.width_help if model else "")


def _prices(pilot: Pilot, runs: Sequence[Run], prices: Mapping[str, float], currency: Currency) -> list[PriceRow]:
    """The effective price of each device kind the runs used (cpu when none ran yet): the pilot's own price
    when it set one, else the service's default for that kind (PRICE_PER_HOUR), as backend.analysis prices it."""
    used = {str((r.cost or {}).get("device_kind") or "cpu") for r in runs if r.cost}
    # Before any run is done: the kind its queue runs on (the gpu queue's workers are CUDA devices).
    kinds = sorted(used) or [_QUEUE_DEVICE.get(pilot.queue, "cpu")]
    own = pilot.roi.get("price_per_device_hour")
    rows = []
    for kind in kinds:
        if own is not None:
            rows.append(PriceRow(kind, format_money(float(own), currency), "set by this pilot"))
        else:
            rows.append(PriceRow(kind, format_money(prices.get(kind, 0.0), currency), f"the default for {kind}"))
    return rows


def _roi_inputs(pilot: Pilot, currency: Currency) -> list[tuple[str, str]]:
    out = []
    for item in ROI_INPUTS:
        value = pilot.roi.get(item.key)
        if item.key == "price_per_device_hour" or value is None:
            continue  # the price has its own rows (with the default when the pilot left it blank)
        out.append((item.label, _input_money(value, currency) if item.money else format_number(value, significant=6)))
    return out


def _input_money(amount: float, currency: Currency) -> str:
    """An amount the pilot typed, as typed: a cost per prediction is often below a cent ("$0.002"), which
    format_money would write as "< $0.01" (right for a computed cost, not for an input to check)."""
    if 0 < abs(amount) < 0.01:
        return currency.prefix() + format_number(amount, significant=6)
    return format_money(amount, currency)


def build_setup(pilot: Pilot, runs: Sequence[Run], prices: Mapping[str, float], currency: Currency) -> Setup:
    dataset = DATASETS.get(pilot.dataset)
    model = MODELS.get(pilot.model)
    arms = []
    for arm in pilot.arms:
        spec = ARMS.get(arm.regularizer)
        params = (
            _rows(spec.params, arm.params)
            if spec
            else [SettingRow(k, format_setting(v), False, "") for k, v in arm.params.items()]
        )
        arms.append(ArmRow(arm.name, arm.regularizer, spec.description if spec else "", params))
    training = {k: f for k, f in TRAINING.items() if k not in _SHOWN_ELSEWHERE}
    return Setup(
        dataset_description=dataset.description if dataset else "",
        dataset_params=_rows(dataset.params, pilot.dataset_params) if dataset else [],
        model_description=model.description if model else "",
        width=_width(pilot),
        arms=arms,
        training=_rows(training, pilot.training),
        prices=_prices(pilot, runs, prices, currency),
        roi_inputs=_roi_inputs(pilot, currency),
    )
