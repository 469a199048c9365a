"""The new-pilot form: its defaults from the catalog, form fields → the API's PilotCreate body, and the
API's 422 ``errors[].field`` paths → the form field each message is shown next to.

Field names in the HTML: ``name``, ``dataset``, ``model``, ``width``, ``seeds``, ``baseline_arm``,
``queue``, ``budget_cap``, ``training.<key>``, ``roi.<key>``, ``dataset_params.<key>`` (the imagefolder
``path``), ``arm`` (one checkbox per regularizer, its
value the regularizer) and ``arm.<regularizer>.<param>``. Numbers are parsed here; text that is not a number
is passed on as it is, so the API's own validation produces the message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from backend.schemas import ErrorItem
from frontend.setting_inputs import COMMON_TRAINING
from pilot_spec import roi_inputs

TRAINING_FIELDS = COMMON_TRAINING  # the training settings the form pre-fills with their defaults

TEXT_SETTINGS = frozenset({"weights"})  # training settings the form sends as typed, never as numbers
# The pilot's ROI fields and its own device-hour price, in the order pilot_spec.roi_inputs lists them.
ROI_INPUTS = tuple(roi_input.key for roi_input in roi_inputs.ROI_INPUTS)
ROI_FIELDS = tuple(key for key in ROI_INPUTS if key != "price_per_device_hour")
# The ROI inputs' words, shared with the reports (pilot_spec.roi_inputs).
ROI_LABELS = {roi_input.key: roi_input.label for roi_input in roi_inputs.ROI_INPUTS}


def parse_value(raw: str) -> Any:
    text = raw.strip()
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _pairs(form: Iterable[tuple[str, Any]]) -> list[tuple[str, str]]:
    return [(key, value) for key, value in form if isinstance(value, str)]


def form_to_body(form: Iterable[tuple[str, Any]], *, dry_run: bool) -> tuple[dict[str, Any], list[str]]:
    """The PilotCreate body, and the order of the arms in it (to map ``arms[i]`` errors back)."""
    pairs = _pairs(form)
    single = dict(pairs)
    chosen = [value for key, value in pairs if key == "arm"]
    body: dict[str, Any] = {"name": single.get("name", ""), "dataset": single.get("dataset", "")}
    for key in ("model", "queue", "baseline_arm", "description"):
        if single.get(key, "").strip():
            body[key] = single[key].strip()
    for key in ("width", "budget_cap", "seeds"):
        if single.get(key, "").strip():
            body[key] = parse_value(single[key])
    training = {}
    roi = {}
    dataset_params: dict[str, Any] = {}
    params: dict[str, dict[str, Any]] = {arm: {} for arm in chosen}
    for key, value in pairs:
        if not value.strip():
            continue
        if key.startswith("training."):
            setting = key.removeprefix("training.")
            # A weights file's name is text even when it looks like a number.
            training[setting] = value.strip() if setting in TEXT_SETTINGS else parse_value(value)
        elif key.startswith("roi."):
            roi[key.removeprefix("roi.")] = parse_value(value)
        elif key.startswith("dataset_params."):
            param = key.removeprefix("dataset_params.")
            dataset_params[param] = value.strip() if param == "path" else parse_value(value)
        elif key.startswith("arm."):
            _, arm, param = key.split(".", 2)
            if arm in params:
                params[arm][param] = parse_value(value)
    if dataset_params:
        body["dataset_params"] = dataset_params
    body["training"] = training
    body["roi"] = roi
    body["arms"] = [{"regularizer": arm, "params": params[arm]} for arm in chosen]
    body["dry_run"] = dry_run
    return body, chosen


_ARM_PATH = re.compile(r"^arms\[(\d+)\](?:\.params\.(\w+))?")


def field_errors(errors: list[ErrorItem], arm_order: list[str]) -> dict[str, list[str]]:
    """API error paths → form field keys (``name``, ``training.epochs``, ``arm.dropout.drop_prob`` ...)."""
    out: dict[str, list[str]] = {}
    for error in errors:
        path, message = error.field, error.message
        key = path
        match = _ARM_PATH.match(path)
        if match:
            index = int(match.group(1))
            arm = arm_order[index] if index < len(arm_order) else "?"
            key = f"arm.{arm}.{match.group(2)}" if match.group(2) else f"arm.{arm}"
        elif path.startswith("training."):
            key = "training." + path.split(".")[1]
        elif path.startswith("roi."):
            key = "roi." + path.split(".")[1]
        elif path.startswith("arms"):
            key = "arms"
        out.setdefault(key, []).append(message)
    return out


def dom_id(key: str) -> str:
    """A field key as a DOM id fragment: ``training.epochs`` → ``training-epochs``."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", key)


def field_id(key: str) -> str:
    """The DOM id of a field's error slot (the input itself is ``f-`` + ``dom_id``)."""
    return "err-" + dom_id(key)


# The form's own checks, in words that say what to do (issue 16): the API's messages for the same problems
# are a validator's ("String should have at least 1 character"), and a blank name only outlined the field.
NAME_MISSING = "Give the pilot a name"
ARMS_MISSING = "Tick at least one arm: the baseline, and the arms to compare against it"


def baseline_unticked(baseline: str) -> str:
    return f"Tick the baseline arm ({baseline}) too, or choose a ticked arm as the baseline"


def form_problems(body: dict[str, Any], arm_order: list[str], *, need_name: bool = True) -> dict[str, list[str]]:
    """What the form itself finds wrong before the API does: no name, no arm ticked, the baseline unticked."""
    problems: dict[str, list[str]] = {}
    if need_name and not str(body.get("name", "")).strip():
        problems["name"] = [NAME_MISSING]
    if not arm_order:
        problems["arms"] = [ARMS_MISSING]
    elif (baseline := body.get("baseline_arm")) and baseline not in arm_order:
        problems["baseline_arm"] = [baseline_unticked(str(baseline))]
    return problems


def checkable(body: dict[str, Any], arm_order: list[str]) -> tuple[dict[str, Any], list[str]]:
    """A dry run of ``body`` that the API can check beyond the form's own problems: a stand-in name, and the
    baseline as the one arm when none is ticked (else the API stops at the empty list of arms)."""
    checked = {**body, "dry_run": True}
    if not str(body.get("name", "")).strip():
        checked["name"] = "(unnamed)"
    if arm_order:
        return checked, arm_order
    baseline = str(body.get("baseline_arm") or "none")
    checked["arms"] = [{"regularizer": baseline, "params": {}}]
    return checked, [baseline]


def merged_errors(own: dict[str, list[str]], api: dict[str, list[str]]) -> dict[str, list[str]]:
    """The API's errors by field, with the form's own words in place of the API's for the same field."""
    return {**api, **own}


# Short names of the fields outside the generated ones, for the error summary's entries.
FIELD_LABELS = {
    "name": "Name",
    "description": "Description",
    "dataset": "Dataset",
    "model": "Model",
    "width": "Model width",
    "seeds": "Seeds",
    "queue": "Queue",
    "baseline_arm": "Baseline arm",
    "budget_cap": "Budget cap",
    "arms": "Arms",
    "dataset_params.path": "Image folder",
    "dataset_params.image_size": "Image size",
    "upload": "Upload",
    **{f"roi.{key}": label for key, label in ROI_LABELS.items()},
}


def field_label(key: str, labels: dict[str, str]) -> str:
    """The words an error summary names ``key`` by: ``Label noise``, ``dropout: drop_prob``."""
    if key in labels:
        return labels[key]
    if key.startswith("arm."):
        return ": ".join(key.split(".")[1:])
    return key


# Fields whose input's id is not ``f-`` + their name (ids the browser tests and the upload form rely on).
_ANCHORS = {"upload": "f-upload-file", "baseline_arm": "f-baseline"}


def field_anchor(key: str, arm_names: list[str]) -> str:
    """The DOM id a summary entry links to: the field's input (the first arm's box for ``arms``)."""
    if key == "arms":
        return "f-" + dom_id(f"arm.{arm_names[0]}") if arm_names else ""
    return _ANCHORS.get(key) or "f-" + dom_id(key)


def summary_entries(
    errors: dict[str, list[str]], labels: dict[str, str], arm_names: list[str]
) -> list[tuple[str, str]]:
    """The error summary's entries: (the id of the field to link to, "Label: what is wrong"), in the order of
    ``labels`` (the page's), fields it does not name (an arm's parameters) last."""
    position = {key: index for index, key in enumerate(labels)}
    ordered = sorted(errors, key=lambda key: position.get(key, len(position)))
    return [(field_anchor(key, arm_names), f"{field_label(key, labels)}: {' '.join(errors[key])}") for key in ordered]
