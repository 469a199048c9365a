"""ImageFolder datasets uploaded as a zip: checked, then extracted under ``<DATA_ROOT>/uploads/<name>-<random>/``.

The result is a folder of class subfolders of images, usable as ``dataset: "imagefolder"`` with
``dataset_params: {"path": <folder>}``. A zip is hostile until proven otherwise, so every entry is checked
from the zip's directory before a byte is written, and refused (``UploadRefused``: a status and a reason)
for: a body over the size cap, not a zip, too many files, too much data once extracted, a compression ratio
over the cap on any entry or overall (zip bombs), absolute paths, ``..`` (zip slip), symlinks and other
special files, encrypted entries, files outside ``<class>/<image>``, non-image extensions, fewer than two
classes, a class without images, or more data than the uploader's quota has room for. The images are then
extracted into a hidden temporary folder under ``uploads/`` and each one's header is read with PIL
(``Image.open`` decodes nothing): one that is not an image, or has more pixels than the cap, is refused by
its name. Images are not decoded here: decoding every image of a request cost seconds of the API's CPU (40
photos of 7000 × 7000 pixels, 5.5 s); the worker decodes them one at a time and fails the run with the
file's name if one is corrupt. Only when everything passed is the folder renamed to its final name, so a
refusal leaves nothing behind, and nothing is ever written outside that folder. The manifest records who
uploaded it and its size (``backend.dataset_quota`` counts a user's uploads against their quota).

A zip that holds one top folder (``cats-and-dogs/cat/1.png``, as zipping a folder makes) is taken from
inside that folder. Hidden entries (``.DS_Store``) and macOS's ``__MACOSX/`` are skipped, as the
``imagefolder`` dataset skips hidden entries. This module needs PIL only: no web framework, no torch.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import stat
import tempfile
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from PIL import Image

from pilot_spec.images import IMAGE_EXTENSIONS

UPLOADS = "uploads"
MANIFEST = ".upload.json"
MAX_DIRECTORIES = 10_000
CHUNK = 1 << 20


class UploadRefused(ValueError):
    """An upload that is not accepted: ``status`` (413, 415 or 422) and a reason that says what to fix."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = 200 * 2**20
    max_uncompressed_bytes: int = 2**30
    max_files: int = 50_000
    max_ratio: float = 100.0
    max_image_pixels: int = 25_000_000  # a 6000 × 4000 photo: far beyond what a pilot trains on


@dataclass(frozen=True)
class UploadedDataset:
    """An extracted upload: its folder (the imagefolder ``path``), and its classes with their image counts."""

    name: str
    folder: str
    path: str
    classes: dict[str, int]
    created_at: str
    owner: str | None = None  # who uploaded it (None: uploaded before owners were recorded: admins manage it)
    bytes: int = 0  # its images' size once extracted (what counts against the owner's quota)

    @property
    def images(self) -> int:
        return sum(self.classes.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "folder": self.folder,
            "path": self.path,
            "classes": self.classes,
            "images": self.images,
            "created_at": self.created_at,
            "owner": self.owner,
            "bytes": self.bytes,
        }


def uploads_root(data_root: Path) -> Path:
    return data_root / UPLOADS


def safe_name(name: str) -> str:
    """A folder-name-safe slug of a dataset name: ``"My cats & dogs!"`` → ``"My-cats-dogs"``."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")[:40].strip("-_")
    return slug or "dataset"


def _entry_parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    """The entry's path parts, or a refusal for an absolute path, a drive, ``..`` or a control character."""
    raw = info.filename
    shown = raw if len(raw) <= 120 else raw[:117] + "..."
    if any(ord(ch) < 32 for ch in raw):
        raise UploadRefused(422, f"the entry {shown!r} has a control character in its name")
    name = raw.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise UploadRefused(422, f"the entry {shown!r} has an absolute path; paths must be relative to the zip")
    parts = tuple(part for part in PurePosixPath(name).parts if part not in ("", "."))
    if ".." in parts:
        raise UploadRefused(422, f"the entry {shown!r} points outside the upload ('..' in its path)")
    return parts


def _file_type(info: zipfile.ZipInfo) -> int:
    """The Unix file type bits of an entry (0 when the zip did not record any)."""
    return stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0


@dataclass(frozen=True)
class _Plan:
    files: list[tuple[zipfile.ZipInfo, str, str]]  # (entry, class, file name)
    classes: dict[str, int]
    total_bytes: int = 0


def plan_upload(entries: Iterable[zipfile.ZipInfo], limits: UploadLimits) -> _Plan:
    """Check every entry of the zip's directory (nothing read or written yet) and plan the extraction."""
    infos = list(entries)
    files: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
    dirs: list[tuple[str, ...]] = []
    total = compressed = 0
    for info in infos:
        parts = _entry_parts(info)
        kind = _file_type(info)
        if kind == stat.S_IFLNK:
            raise UploadRefused(422, f"the entry {info.filename!r} is a symbolic link; only images are accepted")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise UploadRefused(422, f"the entry {info.filename!r} is not a regular file or folder")
        if not parts or parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts):
            continue
        if info.is_dir() or kind == stat.S_IFDIR:
            dirs.append(parts)
            continue
        if info.flag_bits & 0x1:
            raise UploadRefused(422, f"the entry {info.filename!r} is encrypted; upload a zip without a password")
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_ratio:
            raise UploadRefused(
                422,
                f"the entry {info.filename!r} expands {ratio:.0f}× (at most {limits.max_ratio:g}× is accepted): "
                "this looks like a zip bomb",
            )
        files.append((info, parts))
        total += info.file_size
        compressed += info.compress_size
        if len(files) > limits.max_files:
            raise UploadRefused(413, f"the zip has more than {limits.max_files:,} files (the upload limit)")
        if total > limits.max_uncompressed_bytes:
            raise UploadRefused(
                413, f"the zip's files add up to more than {_size(limits.max_uncompressed_bytes)} once extracted"
            )
    if len(dirs) > MAX_DIRECTORIES:
        raise UploadRefused(413, f"the zip has more than {MAX_DIRECTORIES:,} folders")
    if total / max(compressed, 1) > limits.max_ratio:
        raise UploadRefused(
            422,
            f"the zip expands {total / max(compressed, 1):.0f}× overall (at most {limits.max_ratio:g}×): "
            "this looks like a zip bomb",
        )
    # One top folder holding everything (zipping a folder makes that): take the dataset from inside it.
    tops = {parts[0] for _, parts in files} | {parts[0] for parts in dirs}
    strip = 0
    if len(tops) == 1 and files and all(len(parts) >= 3 for _, parts in files):
        strip = 1
    classes: dict[str, int] = {}
    for parts in dirs:
        if len(parts) == strip + 1:
            classes.setdefault(parts[strip], 0)
    planned: list[tuple[zipfile.ZipInfo, str, str]] = []
    for info, parts in files:
        inner = parts[strip:]
        if len(inner) != 2:
            where = "at the top of the zip" if len(inner) < 2 else "in a folder inside a class folder"
            raise UploadRefused(
                422,
                f"{'/'.join(parts)!r} is {where}; put each image directly in its class folder: <class>/<image>",
            )
        label, file_name = inner
        if PurePosixPath(file_name).suffix.lower() not in IMAGE_EXTENSIONS:
            raise UploadRefused(
                422,
                f"{'/'.join(parts)!r} is not an image (accepted: {', '.join(sorted(IMAGE_EXTENSIONS))})",
            )
        classes[label] = classes.get(label, 0) + 1
        planned.append((info, label, file_name))
    for path in dirs:
        if len(path) > strip + 2:
            raise UploadRefused(422, f"the folder {'/'.join(path)!r} is inside a class folder; classes cannot nest")
    empty = sorted(label for label, count in classes.items() if count == 0)
    if empty:
        raise UploadRefused(422, f"the class folder {empty[0]!r} has no images; add images or remove it")
    if len(classes) < 2:
        found = f"only {next(iter(classes))!r}" if classes else "none"
        raise UploadRefused(422, f"a classifier needs at least 2 class folders of images ({found} in the zip)")
    return _Plan(files=planned, classes=dict(sorted(classes.items())), total_bytes=total)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.0f} {unit}"


def _check_image(file: Path, shown: str, max_pixels: int) -> None:
    """Read the image's header with PIL (nothing is decoded): an image, of at most ``max_pixels`` pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file) as image:
                width, height = image.size
    except Exception as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UploadRefused(422, f"the image {shown!r} is corrupt or not an image ({reason[:200]})") from None
    if width * height > max_pixels:
        raise UploadRefused(
            422,
            f"the image {shown!r} is {width} × {height} pixels (at most {max_pixels:,}); shrink it and upload again",
        )


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    written = 0
    with archive.open(info) as source, open(target, "xb") as out:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > info.file_size:  # zipfile stops at the declared size; this is a second guard
                raise UploadRefused(422, f"the entry {info.filename!r} holds more data than it declares")
            out.write(chunk)


def save_upload(
    source: IO[bytes],
    *,
    name: str,
    data_root: Path,
    limits: UploadLimits,
    owner: str | None = None,
    quota_left: int | None = None,
) -> UploadedDataset:
    """Check a zip (a seekable binary file) and extract it into its own new folder under ``uploads/``.

    ``owner`` is recorded in the manifest; ``quota_left`` is how many extracted bytes the owner may still add.

    Raises:
        UploadRefused: with the status and the reason; nothing is left on disk in that case.
    """
    source.seek(0, os.SEEK_END)
    size = source.tell()
    source.seek(0)
    if size > limits.max_bytes:
        raise UploadRefused(413, f"the zip is {_size(size)}; the upload limit is {_size(limits.max_bytes)}")
    if size == 0:
        raise UploadRefused(415, "the file is empty; upload a .zip of class folders of images")
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise UploadRefused(415, "the file is not a zip archive; upload a .zip of class folders of images") from None
    root = uploads_root(data_root)
    root.mkdir(parents=True, exist_ok=True)
    with archive:
        try:
            plan = plan_upload(archive.infolist(), limits)
        except (zipfile.BadZipFile, ValueError) as error:
            if isinstance(error, UploadRefused):
                raise
            raise UploadRefused(415, f"the zip is damaged: {error}") from None
        if quota_left is not None and plan.total_bytes > quota_left:
            raise UploadRefused(
                413,
                f"the zip's files add up to {_size(plan.total_bytes)} once extracted, over what is left of your "
                f"upload quota ({_size(max(quota_left, 0))}) by {_size(plan.total_bytes - max(quota_left, 0))}: "
                "delete datasets you no longer need (DELETE /api/v1/datasets/{folder}), or ask an admin",
            )
        staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
        try:
            base = staging.resolve()
            for label in plan.classes:
                (staging / label).mkdir()
            for info, label, file_name in plan.files:
                target = staging / label / file_name
                if target.resolve().parent.parent != base:  # belt and braces: the plan allows no such path
                    raise UploadRefused(422, f"the entry {info.filename!r} points outside the upload")
                try:
                    _extract(archive, info, target)
                except FileExistsError:
                    raise UploadRefused(422, f"the zip holds {label}/{file_name} twice") from None
                except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as error:
                    raise UploadRefused(422, f"the entry {info.filename!r} cannot be extracted: {error}") from None
                _check_image(target, f"{label}/{file_name}", limits.max_image_pixels)
            folder = f"{safe_name(name)}-{secrets.token_hex(4)}"
            final = root / folder
            dataset = UploadedDataset(
                name=name.strip() or folder,
                folder=folder,
                path=str(final.resolve()),
                classes=plan.classes,
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                owner=owner,
                bytes=plan.total_bytes,
            )
            (staging / MANIFEST).write_text(json.dumps(dataset.to_json(), ensure_ascii=True), encoding="ascii")
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return dataset


def list_uploads(data_root: Path) -> list[UploadedDataset]:
    """The uploaded datasets, newest first (from each folder's manifest)."""
    root = uploads_root(data_root)
    if not root.is_dir():
        return []
    found: list[UploadedDataset] = []
    for folder in root.iterdir():
        manifest = folder / MANIFEST
        if folder.name.startswith(".") or not manifest.is_file():
            continue
        try:
            data = json.loads(manifest.read_text(encoding="ascii"))
            found.append(
                UploadedDataset(
                    name=str(data["name"]),
                    folder=folder.name,
                    path=str(folder.resolve()),
                    classes={str(k): int(v) for k, v in dict(data["classes"]).items()},
                    created_at=str(data["created_at"]),
                    owner=str(data["owner"]) if data.get("owner") is not None else None,
                    bytes=int(data.get("bytes") or 0),
                )
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(found, key=lambda d: (d.created_at, d.folder), reverse=True)
