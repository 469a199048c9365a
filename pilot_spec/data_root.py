"""Where a user's dataset path may lead: inside the data root only (the API and the worker both check it).

An ``imagefolder`` pilot names a folder of the server, so the path is resolved as the worker will open it
(relative to the data root, ``..`` and every symlink followed) and must land inside the data root
(``DATA_ROOT``, which holds the uploads under ``uploads/``). The API refuses anything else with a 422 before a
run is queued (``backend.data_paths``); the worker checks again before reading (``rblock.data.paths``), since
a stored pilot or a changed symlink may have got past the first check. Neither message says where an outside
path leads: the resolved target, or whether it exists, would answer what the path asked.
"""

from __future__ import annotations

import os
from pathlib import Path

DATASET_PATH_FIELD = "dataset_params.path"
# How a refused path is to be given instead, in every message.
PATH_HINT = "give a folder inside it, e.g. uploads/<folder> as GET /api/v1/datasets shows"
WEIGHTS_FIELD = "training.weights"
WEIGHTS_HINT = "put the weights file under the data root (e.g. weights/<file>) and give its path relative to it"
_SHOWN = 120  # characters of a refused value echoed back (the user's own input, never its target)


def resolve_inside(value: str | os.PathLike[str], root: Path) -> Path | None:
    """``value`` resolved as the worker opens it, or None when it leads outside ``root``.

    Args:
        value: relative to ``root`` (``uploads/<folder>``), or absolute.
        root: the data root.

    Returns:
        The resolved absolute path (symlinks followed), inside ``root``'s resolved path; None otherwise,
        and for a value that holds a NUL character (no file system takes one).
    """
    raw = os.fspath(value)
    if "\0" in raw:
        return None
    real_root = root.resolve()
    given = Path(raw).expanduser()
    resolved = (given if given.is_absolute() else real_root / given).resolve()
    return resolved if resolved.is_relative_to(real_root) else None


def outside_message(value: str | os.PathLike[str], root_name: str, hint: str = PATH_HINT) -> str:
    """Why ``value`` is refused: it leads outside ``root_name`` (the root as the reader may see it)."""
    return f"{os.fspath(value)[:_SHOWN]!r} leads outside the data root {root_name}: {hint}"
