"""``rblock-pilot backup --out DIR`` and ``rblock-pilot restore --from DIR [--force]``.

A backup is a folder of three files:

- ``database.pgdump`` (pg_dump, custom format) or ``database.sqlite`` (SQLite's online backup API);
- ``artifacts.tar.gz``: every file under ``ARTIFACT_DIR`` (checkpoints, the store's marker);
- ``manifest.json``: versions, the schema's Alembic revision, the time, and the SHA-256 of both files.
  It is written last, so a folder without it is an interrupted backup.

Both parts can be taken while the service runs. They are not one atomic snapshot: a checkpoint written
between the two is in the archive but its run's last heartbeat is not in the dump, which is harmless (a
resumed run starts from whichever checkpoint it finds). Restore stops at the first problem, before it
changes anything: a damaged file, another database kind, a target database or ARTIFACT_DIR that is not
empty (``--force`` replaces them). It then migrates the schema to this version's newest revision.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pilot_cli import database_dump
from pilot_cli.artifact_archive import ARCHIVE, pack, unpack

if TYPE_CHECKING:
    from backend.store import Store

MANIFEST = "manifest.json"
FORMAT = "rblock-pilot-backup/1"


class BackupError(Exception):
    """The backup or restore cannot go on; the message is one line that says why and what to do."""


def _parser(command: str) -> argparse.ArgumentParser:
    if command == "backup":
        parser = argparse.ArgumentParser(
            prog="rblock-pilot backup",
            description="Back up the database (DATABASE_URL) and the artifacts (ARTIFACT_DIR) into a new folder.",
        )
        parser.add_argument("--out", required=True, type=Path, help="a folder that does not exist yet, or is empty")
        return parser
    parser = argparse.ArgumentParser(
        prog="rblock-pilot restore",
        description="Restore a backup into DATABASE_URL and ARTIFACT_DIR (both empty, unless --force), then "
        "migrate the schema. Stop the API and the workers first.",
    )
    parser.add_argument("--from", dest="source", required=True, type=Path, help="the folder `backup --out` made")
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace a database that has tables, and write into a non-empty ARTIFACT_DIR",
    )
    return parser


def main(command: str, argv: Sequence[str]) -> int:
    """``rblock-pilot backup ...`` or ``rblock-pilot restore ...``; returns the exit code."""
    args = _parser(command).parse_args(list(argv))
    from backend.settings import Settings
    from backend.store import Store, StoreError

    try:
        settings = Settings()
        store = Store(settings.database_url)
        try:
            if command == "backup":
                manifest = backup(store, Path(settings.artifact_dir), args.out)
                artifacts = manifest["artifacts"]
                print(
                    f"backed up the {manifest['database']['dialect']} database (revision "
                    f"{manifest['database']['alembic_revision']}) and {artifacts['files']} artifact files "
                    f"({artifacts['bytes']} bytes) to {args.out}",
                    file=sys.stderr,
                )
            else:
                manifest = restore(store, Path(settings.artifact_dir), args.source, force=args.force)
                print(
                    f"restored the backup of {manifest['created_at']} into "
                    f"{store.engine.url.render_as_string(hide_password=True)} and {settings.artifact_dir}; "
                    f"schema migrated to {database_dump.alembic_revision(store)}",
                    file=sys.stderr,
                )
        finally:
            store.dispose()
    except (BackupError, database_dump.DumpError, StoreError) as error:
        print(f"rblock-pilot {command}: {error}", file=sys.stderr)
        return 2
    return 0


def backup(store: Store, artifact_dir: Path, out: Path) -> dict[str, Any]:
    """Write a backup of ``store``'s database and of ``artifact_dir`` into the new folder ``out``."""
    kind = database_dump.dialect(store.url)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} already exists and is not an empty folder: choose a new --out")
    store.ping()
    revision = database_dump.alembic_revision(store)
    if revision is None:
        raise BackupError("the database has no schema (no alembic_version table): there is nothing to back up")
    out.mkdir(parents=True, exist_ok=True)
    dump_file = out / database_dump.DUMP_FILES[kind]
    tool = database_dump.dump(store, dump_file)
    files, size = pack(artifact_dir, out / ARCHIVE)
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": {"rblock-pilot": _version(), "python": platform.python_version()},
        "database": {
            "dialect": kind,
            "file": dump_file.name,
            "alembic_revision": revision,
            "server": database_dump.server_version(store),
            "tool": tool,
            "url": store.engine.url.render_as_string(hide_password=True),
        },
        "artifacts": {"file": ARCHIVE, "source": str(artifact_dir), "files": files, "bytes": size},
        "sha256": {name: sha256(out / name) for name in (dump_file.name, ARCHIVE)},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def restore(store: Store, artifact_dir: Path, source: Path, *, force: bool) -> dict[str, Any]:
    """Restore the backup in ``source`` into ``store``'s database and ``artifact_dir``, then migrate."""
    manifest = read_manifest(source)
    kind = database_dump.dialect(store.url)
    if manifest["database"]["dialect"] != kind:
        raise BackupError(
            f"{source} holds a {manifest['database']['dialect']} database but DATABASE_URL names a {kind} one"
        )
    store.ping()
    tables = database_dump.table_names(store)
    if tables and not force:
        raise BackupError(
            f"the database at {store.engine.url.render_as_string(hide_password=True)} is not empty "
            f"({len(tables)} tables): restore into an empty database, or pass --force to replace its contents"
        )
    if artifact_dir.is_dir() and any(artifact_dir.iterdir()) and not force:
        raise BackupError(
            f"ARTIFACT_DIR {artifact_dir} is not empty: restore into an empty folder, or pass --force to write "
            "the backup's files over it"
        )
    if tables:
        database_dump.drop_every_table(store)
    database_dump.load(store, source / manifest["database"]["file"])
    unpack(source / manifest["artifacts"]["file"], artifact_dir)
    store.upgrade()
    return manifest


def read_manifest(source: Path) -> dict[str, Any]:
    """The manifest of the backup in ``source``, after checking every file against its checksum."""
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{source} is not a complete backup: it has no {MANIFEST}") from None
    except (OSError, ValueError) as error:
        raise BackupError(f"cannot read {source / MANIFEST}: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{source / MANIFEST} is not a manifest of {FORMAT}")
    checksums: dict[str, str] = manifest.get("sha256") or {}
    for part in ("database", "artifacts"):
        if manifest.get(part, {}).get("file") not in checksums:
            raise BackupError(f"{source / MANIFEST} gives no checksum for the {part} file")
    for name, expected in checksums.items():
        path = source / name
        if not path.is_file():
            raise BackupError(f"{path} is missing: the backup is incomplete")
        if sha256(path) != expected:
            raise BackupError(f"{path} does not match its SHA-256 in {MANIFEST}: the backup is damaged")
    return manifest


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _version() -> str:
    try:
        return metadata.version("rblock-pilot")
    except metadata.PackageNotFoundError:
        return "unknown"
