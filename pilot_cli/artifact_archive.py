"""The artifact directory as one ``tar.gz``: every file under ``ARTIFACT_DIR``, paths relative to it."""

from __future__ import annotations

import tarfile
from pathlib import Path

ARCHIVE = "artifacts.tar.gz"
# Left-overs of an interrupted write (the marker's temporary file, the worker's write check): not data.
_SKIPPED_PREFIXES = (".write-check-",)
_SKIPPED_SUFFIXES = (".tmp",)


def pack(artifact_dir: Path, archive: Path) -> tuple[int, int]:
    """Write every regular file under ``artifact_dir`` into ``archive``; returns (files, bytes).

    A missing ``artifact_dir`` (no run ever checkpointed) gives an empty archive.
    """
    files = size = 0
    with tarfile.open(archive, "w:gz") as tar:
        if not artifact_dir.is_dir():
            return 0, 0
        for path in sorted(artifact_dir.rglob("*")):
            if not path.is_file() or path.is_symlink() or _skipped(path):
                continue
            tar.add(path, arcname=path.relative_to(artifact_dir).as_posix(), recursive=False)
            files += 1
            size += path.stat().st_size
    return files, size


def unpack(archive: Path, artifact_dir: Path) -> None:
    """Extract ``archive`` into ``artifact_dir`` (created if missing); existing files of the same name are replaced.

    The ``data`` filter refuses absolute paths, ``..``, links out of the folder and device files, so a
    tampered archive cannot write outside ``artifact_dir``.
    """
    artifact_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(artifact_dir, filter="data")


def _skipped(path: Path) -> bool:
    return path.name.startswith(_SKIPPED_PREFIXES) or path.name.endswith(_SKIPPED_SUFFIXES)
