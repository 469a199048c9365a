"""Confinement of a user's dataset path to the data root: the worker's side of ``pilot_spec.data_root``.

The check holds whatever reached the worker (a pilot stored before the API checked, a symlink changed
since); the error never shows where an outside path leads.
"""

from __future__ import annotations

import os
from pathlib import Path

from pilot_spec.data_root import PATH_HINT, outside_message, resolve_inside
from rblock.data.split import DatasetError


def confine(
    value: str | os.PathLike[str], root: Path, *, what: str = "imagefolder: path", hint: str = PATH_HINT
) -> Path:
    """``value`` resolved inside ``root`` (relative to it, or absolute but inside), else a ``DatasetError``.

    Args:
        value: the user's path (``uploads/<folder>`` or an absolute path under the root).
        root: the data root.
        what: the field, for the message.

    Returns:
        The resolved absolute path (symlinks followed).
    """
    resolved = resolve_inside(value, root)
    if resolved is None:
        raise DatasetError(f"{what} {outside_message(value, str(root), hint)}")
    return resolved


def inside(entry: Path, real_root: Path) -> bool:
    """Whether ``entry`` (a file or folder found under the root) still resolves inside ``real_root``."""
    return Path(os.path.realpath(entry)).is_relative_to(real_root)
