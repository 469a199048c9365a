"""Confinement of a user's dataset path to the data root (the worker's side of the check).

An ``imagefolder`` path comes from a pilot's request, so it must not name any folder of the server: it
resolves (``..`` and every symlink followed) inside the data root (``DATA_ROOT``, which holds ``uploads/``),
or the run fails. The error never shows where an outside path leads: naming ``/etc/ssl``'s resolved target,
or whether it exists, would answer the question the path asked. The API refuses the same paths with a 422
before a run is queued (``backend.data_paths``); this check is the one that holds whatever reached the worker.
"""

from __future__ import annotations

import os
from pathlib import Path

from rblock.data.split import DatasetError

_SHOWN = 120  # characters of a refused value echoed back (it is the user's own input)


def confine(value: str | os.PathLike[str], root: Path, *, what: str = "imagefolder: path") -> Path:
    """``value`` resolved inside ``root``: relative to ``root``, or absolute but inside it.

    Args:
        value: the user's path (``uploads/<folder>`` or an absolute path under the root).
        root: the data root.
        what: the name of the field, for the message.

    Returns:
        The resolved absolute path (symlinks followed), inside ``root``'s resolved path.

    Raises:
        DatasetError: the path leads outside the root (``..``, an absolute path elsewhere, a symlink out).
    """
    raw = os.fspath(value)
    if "\0" in raw:
        raise DatasetError(f"{what} must not contain a NUL character")
    real_root = root.resolve()
    given = Path(raw).expanduser()
    resolved = (given if given.is_absolute() else real_root / given).resolve()
    if not resolved.is_relative_to(real_root):
        raise DatasetError(
            f"{what} {raw[:_SHOWN]!r} leads outside the data root {root}: give a folder inside it, "
            "e.g. uploads/<folder> as the datasets list shows"
        )
    return resolved


def inside(entry: Path, real_root: Path) -> bool:
    """Whether ``entry`` (a file or folder found under the root) still resolves inside ``real_root``."""
    return Path(os.path.realpath(entry)).is_relative_to(real_root)
