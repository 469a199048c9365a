"""Clone a pilot into the new-pilot form: its settings as the form's field values (``frontend.forms`` names).

The form holds one arm per regularizer, so a pilot with two arms of one regularizer (under two names) comes
back with the first of them. Every training setting has a field (the folded ones too); dataset parameters the
form has no field for travel as hidden fields (the API checks them as it checks any field). A sequential
plan is not cloned: the form has no field for it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from backend.schemas import NAME_MAX, PilotDetail
from frontend.forms import ROI_INPUTS
from frontend.setting_inputs import plain_number
from pilot_spec.training import NOT_IN_PILOT_TRAINING

# A value as the form writes it: booleans as ``true``/``false`` (what ``forms.parse_value`` reads back), numbers
# never in scientific notation.
form_text = plain_number


def _seeds(seeds: list[int]) -> str:
    # The count when the seeds are 0..n-1 (what a count makes); else the list, to keep the same seeds.
    return str(len(seeds)) if seeds == list(range(len(seeds))) else ",".join(map(str, seeds))


def clone_values(pilot: PilotDetail, catalog: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The form's values for a copy of ``pilot``, and the regularizers to tick."""
    accepted = {key for key in catalog.get("training", {}) if key not in NOT_IN_PILOT_TRAINING}
    baseline = next((arm.regularizer for arm in pilot.arms if arm.name == pilot.baseline_arm), pilot.baseline_arm)
    values: dict[str, str] = {
        "name": f"copy of {pilot.name}"[:NAME_MAX],
        "description": pilot.description,
        "dataset": pilot.dataset,
        "model": pilot.model,
        "width": form_text(pilot.width),
        "seeds": _seeds(pilot.seeds),
        "queue": pilot.queue,
        "baseline_arm": baseline,
        "budget_cap": form_text(pilot.budget_cap),
    }
    values |= {f"training.{key}": form_text(v) for key, v in pilot.training.items() if key in accepted}
    values |= {f"roi.{key}": form_text(pilot.roi.get(key)) for key in ROI_INPUTS}
    values |= {f"dataset_params.{key}": form_text(v) for key, v in pilot.dataset_params.items()}
    arms: list[str] = []
    for arm in pilot.arms:
        if arm.regularizer in arms:
            continue
        arms.append(arm.regularizer)
        values |= {f"arm.{arm.regularizer}.{key}": form_text(v) for key, v in arm.params.items()}
    return values, arms


# The dataset parameters with a field of their own (frontend/templates/_dataset_params.html).
DATASET_FIELDS = frozenset({"dataset_params.path", "dataset_params.image_size"})


def hidden_values(values: dict[str, Any], shown: Collection[str]) -> dict[str, str]:
    """The values the form has no visible field for (``shown``: the generated training inputs' names; dataset
    parameters other than the folder path and image size): kept as hidden fields so that the copy is queued
    with them."""
    visible = {*shown, *DATASET_FIELDS}
    return {
        key: str(value)
        for key, value in values.items()
        if key.startswith(("training.", "dataset_params.")) and key not in visible and str(value) != ""
    }
