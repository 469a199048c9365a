"""``rblock-pilot backup`` and ``restore`` on the real databases: PostgreSQL (pg_dump) and SQLite.

A pilot with finished runs, metric points, predictions and checkpoint files is backed up, restored into a
fresh database and artifact folder, and the restored service must answer the same JSON for the pilot list,
the pilot with its runs, its metric points and its summary, hold the same files, and keep its
artifact-store marker consistent.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from backend.app import create_app
from backend.auth.accounts import issue_token
from backend.settings import Settings
from backend.store import RunStatus, Store
from backend.store.schema import head_revision, upgrade
from pilot_cli.artifact_store import read_marker, write_marker
from pilot_cli.main import main
from tests.support.api import API, RecordingQueue, bearer, create_pilot, open_api, start

ACCURACY = {"none": (0.950, 0.955, 0.948), "rblock_s": (0.975, 0.980, 0.972)}


@pytest.fixture(autouse=True)
def _pg_dump_or_skip(database_url: str) -> None:
    if database_url.startswith("postgresql") and shutil.which("pg_dump") is None and not os.environ.get("CI"):
        pytest.skip("pg_dump is not installed here: apt-get install postgresql-client (CI has it)")


def cli(monkeypatch: pytest.MonkeyPatch, database_url: str, artifact_dir: Path, *args: str) -> int:
    """``rblock-pilot ARGS`` in this process, on ``database_url`` and ``artifact_dir`` (read from the environment)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ARTIFACT_DIR", str(artifact_dir))
    return main(list(args))


def populate(database_url: str, artifact_dir: Path) -> tuple[int, dict[str, Any]]:
    """A pilot of two arms x three seeds, every run finished with points, predictions and checkpoints.

    Returns the pilot's id and what the API answers about it.
    """
    rng = random.Random(17)
    with open_api(database_url, artifact_dir=artifact_dir) as api:
        pilot = create_pilot(api, seeds=3)
        for run in pilot["runs"]:
            start(api.store, run["id"])
            acc = ACCURACY[run["arm"]][run["seed"]]
            points = [(key, epoch, acc - 0.1 / epoch) for epoch in (1, 2) for key in ("test_acc", "train_loss")]
            api.store.write_points(run_id=run["id"], points=[*points, ("test_loss", 2, float("nan"))])
            api.store.finish_run(
                run_id=run["id"],
                status=RunStatus.SUCCEEDED,
                cost={"device_hours": 0.01, "device_kind": "cpu", "device_name": "cpu", "samples_per_second": 900.0},
                final_metrics={"test_acc": acc, "ece": 0.02, "flip_rate": 0.01, "inconsistency_kl": 0.01},
                predictions=[rng.randrange(10) for _ in range(50)],
            )
            for epoch in (1, 2):
                checkpoint = artifact_dir / str(run["id"]) / "attempt-1" / f"epoch-{epoch}.pt"
                checkpoint.parent.mkdir(parents=True, exist_ok=True)
                checkpoint.write_bytes(rng.randbytes(4096))
        api.client.put(f"{API}/pilots/{pilot['id']}/roi", json={"predictions_per_year": 1e6, "cost_per_error": 0.5})
        write_marker(api.store, artifact_dir)  # as `rblock-pilot api` does at start-up
        return pilot["id"], served(api.client, pilot["id"])


def served(client: TestClient, pilot_id: int) -> dict[str, Any]:
    """What the API answers about the pilot: the JSON a restored service must repeat exactly."""
    answers = {}
    for path in ("/pilots", f"/pilots/{pilot_id}", f"/pilots/{pilot_id}/metrics", f"/pilots/{pilot_id}/summary"):
        response = client.get(API + path)
        assert response.status_code == 200, (path, response.text)
        answers[path] = response.json()
    return answers


@contextmanager
def restored_api(database_url: str, artifact_dir: Path) -> Iterator[TestClient]:
    """The app on a restored database, signed in with a new token of the restored ``admin``."""
    settings = Settings(
        database_url=database_url, broker_url="memory://", reconcile_every_s=3600.0, artifact_dir=artifact_dir
    )
    store = Store(settings.database_url)
    try:
        with TestClient(create_app(settings, store=store, queue=RecordingQueue(store=store))) as client:
            client.headers.update(bearer(issue_token(store, user_name="admin", label="restored")[1]))
            yield client
    finally:
        store.dispose()


def files(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@dataclass
class Backup:
    pilot_id: int
    served: dict[str, Any]  # what the API answered about the pilot before the backup
    artifacts: Path
    folder: Path
    manifest: dict[str, Any]


@pytest.fixture
def backup(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Backup:
    """The populated database and artifacts, backed up with ``rblock-pilot backup``."""
    artifacts, folder = tmp_path / "artifacts", tmp_path / "backup"
    pilot_id, expected = populate(database_url, artifacts)
    summary = expected[f"/pilots/{pilot_id}/summary"]
    assert summary["comparisons"][0]["arm"] == "rblock_s" and summary["roi"][0]["verdict"]  # a real analysis
    assert {run["status"] for run in expected[f"/pilots/{pilot_id}"]["runs"]} == {"succeeded"}
    assert cli(monkeypatch, database_url, artifacts, "backup", "--out", str(folder)) == 0
    print(capsys.readouterr().err.strip())
    manifest = json.loads((folder / "manifest.json").read_text())
    return Backup(pilot_id=pilot_id, served=expected, artifacts=artifacts, folder=folder, manifest=manifest)


def test_a_restored_service_serves_the_same_pilots_and_summaries(
    backup: Backup, database_url: str, another_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    restored_artifacts, manifest = tmp_path / "restored", backup.manifest
    kind = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    assert manifest["database"]["dialect"] == kind and manifest["database"]["alembic_revision"] == head_revision()
    assert manifest["artifacts"]["files"] == 6 * 2 + 1  # two checkpoints per run, and the store's marker
    assert set(manifest["sha256"]) == {manifest["database"]["file"], "artifacts.tar.gz"}
    assert manifest["versions"]["rblock-pilot"] and manifest["created_at"]
    assert (
        "pg_dump" in manifest["database"]["tool"] if kind == "postgresql" else "sqlite3" in manifest["database"]["tool"]
    )

    assert cli(monkeypatch, another_database_url, restored_artifacts, "restore", "--from", str(backup.folder)) == 0
    print(capsys.readouterr().err.strip())
    assert files(restored_artifacts) == files(backup.artifacts)
    with restored_api(another_database_url, restored_artifacts) as client:
        assert served(client, backup.pilot_id) == backup.served
    restored = Store(another_database_url)
    try:
        assert read_marker(restored_artifacts) == restored.installation.artifact_store_id() is not None
    finally:
        restored.dispose()


def test_restore_refuses_a_non_empty_database_a_damaged_backup_and_another_kind(
    backup: Backup, database_url: str, another_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    source_artifacts, target_artifacts, folder = backup.artifacts, tmp_path / "target", backup.folder

    def refused(url: str, folder: Path, *args: str) -> str:
        assert cli(monkeypatch, url, folder, *args) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1, lines
        return lines[0]

    # A second backup into the same folder would mix two backups.
    assert "is not an empty folder: choose a new --out" in refused(
        database_url, source_artifacts, "backup", "--out", str(folder)
    )
    # The source itself is not empty: restoring over it needs --force.
    line = refused(database_url, target_artifacts, "restore", "--from", str(folder))
    assert line.startswith("rblock-pilot restore: the database at ") and "is not empty" in line and "--force" in line
    # Nor is an ARTIFACT_DIR with files in it.
    line = refused(another_database_url, source_artifacts, "restore", "--from", str(folder))
    assert f"ARTIFACT_DIR {source_artifacts} is not empty" in line
    # A damaged archive is caught by its checksum before anything changes.
    damaged = tmp_path / "damaged"
    shutil.copytree(folder, damaged)
    data = bytearray((damaged / "artifacts.tar.gz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (damaged / "artifacts.tar.gz").write_bytes(bytes(data))
    line = refused(another_database_url, target_artifacts, "restore", "--from", str(damaged))
    assert line.endswith("artifacts.tar.gz does not match its SHA-256 in manifest.json: the backup is damaged"), line
    assert not target_artifacts.exists()
    # A folder that is not a backup.
    assert "has no manifest.json" in refused(another_database_url, target_artifacts, "restore", "--from", str(tmp_path))
    # A backup of the other database kind.
    other = (
        f"sqlite:///{tmp_path}/other.db"
        if database_url.startswith("postgresql")
        else "postgresql+psycopg://x@127.0.0.1:1/x"
    )
    assert "DATABASE_URL names a" in refused(other, target_artifacts, "restore", "--from", str(folder))

    # --force replaces a database that has tables (here: a pilot and users of their own).
    with open_api(another_database_url) as api:
        create_pilot(api, name="made after the backup")
    assert cli(monkeypatch, another_database_url, target_artifacts, "restore", "--from", str(folder), "--force") == 0
    with restored_api(another_database_url, target_artifacts) as client:
        assert served(client, backup.pilot_id) == backup.served


def test_restore_migrates_an_older_backup_to_the_newest_schema(
    database_url: str, another_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = Store(database_url)
    try:
        upgrade(old.engine, "0004")  # the schema before the installation table
    finally:
        old.dispose()
    folder = tmp_path / "backup"
    assert cli(monkeypatch, database_url, tmp_path / "artifacts", "backup", "--out", str(folder)) == 0
    assert json.loads((folder / "manifest.json").read_text())["database"]["alembic_revision"] == "0004"
    assert cli(monkeypatch, another_database_url, tmp_path / "restored", "restore", "--from", str(folder)) == 0
    restored = Store(another_database_url)
    try:
        with restored.engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
        assert restored.installation.artifact_store_id() is None  # made by the API's next start
    finally:
        restored.dispose()
