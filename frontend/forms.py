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

TRAINING_FIELDS = ("epochs", "batch_size", "lr")
TEXT_SETTINGS = frozenset({"weights"})  # training settings the form sends as typed, never as numbers
ROI_FIELDS = ("predictions_per_year", "cost_per_error", "cost_per_changed_prediction", "retrains_per_year")
ROI_INPUTS = (*ROI_FIELDS, "price_per_device_hour")  # the pilot's ROI fields and its own device-hour price
ROI_LABELS = {
    "predictions_per_year": "Predictions per year",
    "cost_per_error": "Cost of one wrong prediction",
    "cost_per_changed_prediction": "Cost of one changed prediction",
    "retrains_per_year": "Retrains per year",
    "price_per_device_hour": "Price per device-hour",
}


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
