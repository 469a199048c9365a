"""The API's side of the data-root confinement (``pilot_spec.data_root``): a pilot's dataset path.

Checked when a pilot is planned (``backend.submission.plan_pilot``, for the API and the pages alike), so a
path outside the data root is a 422 naming ``dataset_params.path`` before any run is queued. The message
names the root by its setting, ``DATA_ROOT``, not by its server path, which only admins are shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pilot_spec.data_root import DATASET_PATH_FIELD, outside_message, resolve_inside

ROOT_NAME = "DATA_ROOT"

__all__ = ["DATASET_PATH_FIELD", "dataset_path_problem"]


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
