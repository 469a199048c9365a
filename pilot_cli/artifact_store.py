"""The artifact store's marker: the API writes it, a worker checks it before it starts.

A run resumes from ``ARTIFACT_DIR/<run id>/attempt-<n>/checkpoint.pt``, possibly on another machine than
the one that wrote it, so every worker must see the API's files. A worker whose mount is missing (an
empty local folder where NFS should be) or read-only would otherwise start, claim runs and fail them, or
train every resumed run again from its first epoch, without a word.

- The API (``rblock-pilot api`` and ``up``) writes ``ARTIFACT_DIR/.rblock-pilot-store`` at start-up,
  holding the id that the database keeps in its ``installation`` row (random, created once).
- A worker (``rblock-pilot worker``) refuses to start when its ``ARTIFACT_DIR`` is not writable, and, with
  ``SHARED_ARTIFACTS=true``, when the marker it sees there is missing or holds another id than the
  database's. Each refusal is one line that says what to fix.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from pathlib import Path

from backend.store import Store
from backend.store.db import utc_now

MARKER = ".rblock-pilot-store"


class ArtifactStoreError(Exception):
    """ARTIFACT_DIR cannot be used; the message is one line that says why and what to do."""


def check_writable(artifact_dir: Path, who: str) -> None:
    """Create ``artifact_dir`` if needed and write and delete a file in it, as a checkpoint would."""
    try:
        artifact_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=artifact_dir, prefix=".write-check-"):
            pass
    except OSError as error:
        raise ArtifactStoreError(
            f"ARTIFACT_DIR {artifact_dir} is not writable by {who} (uid {os.getuid()}): "
            f"{error.strerror or error}; mount the artifact store read-write there, or set ARTIFACT_DIR"
        ) from None


def write_marker(store: Store, artifact_dir: Path) -> str:
    """Write the marker with the database's artifact-store id into ``artifact_dir`` (the API, at start-up).

    The id is created on the first start and never changes, so an API restarted on the same store
    rewrites the same id, and workers that checked before stay right. Returns the id.
    """
    check_writable(artifact_dir, "the API")
    store_id = store.installation.ensure_artifact_store_id()
    if read_marker(artifact_dir) == store_id:
        return store_id
    content = {
        "artifact_store_id": store_id,
        "database": store.engine.url.render_as_string(hide_password=True),
        "written_by": f"rblock-pilot api on {socket.gethostname()}",
        "written_at": utc_now().isoformat(),
    }
    # Written whole and renamed, so a worker starting meanwhile reads the old marker or the new, never half.
    temporary = artifact_dir / f"{MARKER}.{os.getpid()}.tmp"
    try:
        temporary.write_text(json.dumps(content, indent=2) + "\n")
        temporary.replace(artifact_dir / MARKER)
    except OSError as error:
        raise ArtifactStoreError(f"cannot write {artifact_dir / MARKER}: {error.strerror or error}") from None
    return store_id


def read_marker(artifact_dir: Path) -> str | None:
    """The id in ``artifact_dir``'s marker, or None when there is no readable marker."""
    try:
        content = json.loads((artifact_dir / MARKER).read_text())
    except (OSError, ValueError):
        return None
    value = content.get("artifact_store_id") if isinstance(content, dict) else None
    return value if isinstance(value, str) else None


def check_worker(store: Store, artifact_dir: Path, *, shared: bool) -> None:
    """Raise :class:`ArtifactStoreError` when a worker must not start on ``artifact_dir``.

    Always: the folder must be writable. With ``shared`` (``SHARED_ARTIFACTS``): it must hold the marker
    the API wrote, with the database's id.
    """
    check_writable(artifact_dir, "this worker")
    if not shared:
        return
    expected = store.installation.artifact_store_id()
    if expected is None:
        raise ArtifactStoreError(
            f"SHARED_ARTIFACTS is set but the API has not marked an artifact store yet (database "
            f"{store.engine.url.render_as_string(hide_password=True)}): start the API first (rblock-pilot api)"
        )
    seen = read_marker(artifact_dir)
    if seen == expected:
        return
    found = f"its marker holds {seen}" if seen else f"it has no {MARKER} marker"
    raise ArtifactStoreError(
        f"ARTIFACT_DIR {artifact_dir} is not the artifact store the API uses ({found}; the database expects "
        f"{expected}): mount the shared store there (the same files as the API and the other workers)"
    )
