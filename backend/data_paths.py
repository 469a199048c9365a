"""The API's side of the data-root confinement (``pilot_spec.data_root``): a pilot's dataset path.

Checked when a pilot is planned (``backend.submission.plan_pilot``, for the API and the pages alike), so a
path outside the data root is a 422 naming ``dataset_params.path`` before any run is queued. The message
names the root by its setting, ``DATA_ROOT``, not by its server path, which only admins are shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pilot_spec.data_root import DATASET_PATH_FIELD, WEIGHTS_FIELD, WEIGHTS_HINT, outside_message, resolve_inside
from pilot_spec.models import HUB_WEIGHTS

ROOT_NAME = "DATA_ROOT"

__all__ = ["DATASET_PATH_FIELD", "WEIGHTS_FIELD", "data_path_problems"]


def data_path_problems(
    dataset_params: Mapping[str, Any], training: Mapping[str, Any], data_root: Path
) -> list[tuple[str, str]]:
    """Every file path of a pilot that leads outside ``data_root``, as (field, problem): the image folder's
    ``dataset_params.path`` and the starting weights' ``training.weights`` (``hub`` is not a path)."""
    problems: list[tuple[str, str]] = []
    if (problem := dataset_path_problem(dataset_params, data_root)) is not None:
        problems.append((DATASET_PATH_FIELD, problem))
    weights = training.get("weights")
    if isinstance(weights, str) and weights != HUB_WEIGHTS and resolve_inside(weights, data_root) is None:
        problems.append((WEIGHTS_FIELD, outside_message(weights, ROOT_NAME, WEIGHTS_HINT)))
    return problems


def dataset_path_problem(params: Mapping[str, Any], data_root: Path) -> str | None:
    """Why ``params["path"]`` may not be trained on (it leads outside ``data_root``), or None.

    Args:
        params: a pilot's validated dataset parameters; only a string ``path`` is checked (datasets without
            one, such as ``digits``, pass).
        data_root: the settings' data root (uploads live under ``<data_root>/uploads``).
    """
    value = params.get("path")
    if not isinstance(value, str) or resolve_inside(value, data_root) is not None:
        return None
    return outside_message(value, ROOT_NAME)
