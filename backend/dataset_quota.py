"""Uploaded datasets as a user's property: their quota, finding one by folder, deleting it, showing its path.

A user's uploads count against ``UPLOAD_QUOTA_BYTES`` (their extracted size, from each manifest; an admin
can raise it per user, limit ``upload_quota_bytes``). Deleting frees the space; it is refused (409) while a
queued or running pilot trains on the folder. Uploads made before owners were recorded have none and only
an admin may delete them, as with pilots.

Non-admins see an upload's path as ``uploads/<folder>``, relative to ``DATA_ROOT`` (the imagefolder dataset
resolves a relative path there), so the server's directory layout is shown to admins only.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from backend.uploads import UPLOADS, UploadedDataset, list_uploads, uploads_root


class DatasetMissing(LookupError):
    """No upload in that folder."""


def used_bytes(data_root: Path, owner: str) -> int:
    """Extracted bytes of the uploads ``owner`` keeps."""
    return sum(d.bytes for d in list_uploads(data_root) if d.owner == owner)


def find_upload(data_root: Path, folder: str) -> UploadedDataset:
    """The upload in ``uploads/<folder>`` (``DatasetMissing`` otherwise; no other folder can be named)."""
    for dataset in list_uploads(data_root):
        if dataset.folder == folder:
            return dataset
    raise DatasetMissing(f"no uploaded dataset in folder {folder[:100]!r}; GET /api/v1/datasets lists them")


def paths_of(dataset: UploadedDataset) -> list[str]:
    """Every way a pilot's ``dataset_params.path`` may name this upload."""
    return [dataset.path, shown_path(dataset, admin=False)]


def shown_path(dataset: UploadedDataset, *, admin: bool) -> str:
    """The absolute path for an admin; ``uploads/<folder>`` (under DATA_ROOT) for everybody else."""
    return dataset.path if admin else f"{UPLOADS}/{dataset.folder}"


def delete_upload(data_root: Path, dataset: UploadedDataset) -> None:
    """Remove an upload's folder: renamed to a hidden name first (gone from the list at once), then deleted."""
    folder = uploads_root(data_root) / dataset.folder
    doomed = folder.with_name(f".deleting-{dataset.folder}-{secrets.token_hex(4)}")
    try:
        os.rename(folder, doomed)
    except FileNotFoundError:
        raise DatasetMissing(f"no uploaded dataset in folder {dataset.folder!r}") from None
    shutil.rmtree(doomed, ignore_errors=True)
