"""The artifact store's marker on real databases (SQLite and PostgreSQL): written by the API, checked by workers.

The worker processes themselves (refusal lines, exit codes, a read-only mount) are in
``tests/e2e/test_artifact_mount.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.store import Store
from pilot_cli.artifact_store import MARKER, ArtifactStoreError, check_worker, read_marker, write_marker


def test_the_api_marks_its_artifact_dir_with_the_databases_id(store: Store, tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"  # created by the API if missing
    store_id = write_marker(store, artifacts)
    assert len(store_id) == 32 and store.installation.artifact_store_id() == store_id
    marker = json.loads((artifacts / MARKER).read_text())
    assert marker["artifact_store_id"] == store_id and marker["written_by"].startswith("rblock-pilot api on ")
    # A restarted API (another process: another Store) keeps the id, so workers that checked stay right.
    again = Store(store.url)
    try:
        assert write_marker(again, artifacts) == store_id
    finally:
        again.dispose()
    # Another folder (a fresh volume) gets the same id: it is the deployment's, not the folder's.
    assert write_marker(store, tmp_path / "fresh") == store_id


def test_a_worker_on_the_same_store_passes(store: Store, tmp_path: Path) -> None:
    write_marker(store, tmp_path)
    check_worker(store, tmp_path, shared=True)


def test_a_worker_on_an_empty_folder_is_refused_with_one_line(store: Store, tmp_path: Path) -> None:
    store_id = write_marker(store, tmp_path / "shared")
    with pytest.raises(ArtifactStoreError) as refused:
        check_worker(store, tmp_path / "local", shared=True)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"ARTIFACT_DIR {tmp_path / 'local'} is not the artifact store the API uses")
    assert f"it has no {MARKER} marker" in message and store_id in message


def test_a_worker_on_another_deployments_store_is_refused(store: Store, tmp_path: Path) -> None:
    store_id = write_marker(store, tmp_path / "ours")
    other = tmp_path / "theirs"
    other.mkdir()
    (other / MARKER).write_text(json.dumps({"artifact_store_id": "f" * 32}))
    with pytest.raises(ArtifactStoreError, match=f"its marker holds {'f' * 32}; the database expects {store_id}"):
        check_worker(store, other, shared=True)


def test_before_the_api_ever_started_a_shared_worker_is_told_to_start_it(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ArtifactStoreError, match=r"start the API first \(rblock-pilot api\)"):
        check_worker(store, tmp_path, shared=True)


def test_without_shared_artifacts_any_writable_folder_will_do(store: Store, tmp_path: Path) -> None:
    check_worker(store, tmp_path / "anywhere", shared=False)
    assert read_marker(tmp_path / "anywhere") is None
    assert list((tmp_path / "anywhere").iterdir()) == []  # the write check leaves nothing behind


def test_a_folder_that_cannot_be_created_is_not_writable(store: Store, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ArtifactStoreError, match=f"ARTIFACT_DIR {blocker / 'artifacts'} is not writable by"):
        check_worker(store, blocker / "artifacts", shared=False)
    with pytest.raises(ArtifactStoreError, match="is not writable by the API"):
        write_marker(store, blocker / "artifacts")
