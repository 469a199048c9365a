"""A worker refuses to start on the wrong artifact store, with one line: real ``rblock-pilot`` processes.

``rblock-pilot api`` marks its ``ARTIFACT_DIR`` at start-up; ``rblock-pilot worker`` with
``SHARED_ARTIFACTS=true`` then starts on the API's folder, and refuses (exit code 2, one line on stderr,
no traceback) on a folder without the marker; any worker refuses a read-only ``ARTIFACT_DIR``. The read-only
mount is real: a read-only bind mount in a private mount namespace when the test runs as root (root
writes through file modes), the folder's mode otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend.store import Store
from pilot_cli.artifact_store import MARKER, read_marker
from tests.support.processes import Processes, base_env, free_port, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def worker(name: str) -> list[str]:
    return [sys.executable, "-m", "pilot_cli.main", "worker", "--device", "cpu", "--queues", "cpu", "--name", name]


def run_refused(command: list[str], env: dict[str, str]) -> str:
    """Run a worker that must refuse to start; returns its one line."""
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("rblock-pilot: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """A folder, and a command prefix that runs its command with that folder read-only."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder, []
        folder.chmod(0o755)
        return
    unshare = shutil.which("unshare")
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'
    prefix = [unshare or "unshare", "-m", "--", "sh", "-c", script, str(folder)]
    if unshare is None or subprocess.run([*prefix, "true"], capture_output=True, check=False).returncode:
        pytest.skip("root here, and no private mount namespace (unshare -m) to make a read-only mount in")
    yield folder, prefix


def test_a_worker_refuses_a_read_only_artifact_dir(tmp_path: Path, read_only: tuple[Path, list[str]]) -> None:
    folder, prefix = read_only
    env = base_env(
        DATABASE_URL=f"sqlite:///{tmp_path}/pilot.db",
        BROKER_URL=f"sqla+sqlite:///{tmp_path}/broker.db",
        ARTIFACT_DIR=str(folder),
    )
    line = run_refused([*prefix, *worker("read-only")], env)
    assert line.startswith(f"rblock-pilot: ARTIFACT_DIR {folder} is not writable by this worker (uid {os.geteuid()}): ")
    assert "Read-only file system" in line or "Permission denied" in line, line
    print(f"\nread-only artifact mount:\n  {line}")


def test_workers_start_only_on_the_store_the_api_marked(tmp_path: Path, processes: Processes) -> None:
    shared, local = tmp_path / "shared", tmp_path / "local"
    database_url = f"sqlite:///{tmp_path}/pilot.db"
    env = base_env(
        DATABASE_URL=database_url,
        BROKER_URL=f"sqla+sqlite:///{tmp_path}/broker.db",
        ARTIFACT_DIR=str(shared),
        SHARED_ARTIFACTS="true",
    )
    # No API has started on this database yet: nothing to compare with.
    before = run_refused(worker("early"), env)
    assert before.endswith("start the API first (rblock-pilot api)"), before

    port = free_port()
    api = processes.start("api", [sys.executable, "-m", "pilot_cli.main", "api", "--port", str(port)], env)

    def healthy() -> bool:
        assert api.alive(), api.text()[-3000:]
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for("the API's health check", healthy, timeout_s=90, every_s=0.2)
    store = Store(database_url)
    try:
        store_id = store.installation.artifact_store_id()
        assert store_id is not None and read_marker(shared) == store_id

        # An empty local folder where the shared mount should be (the NFS mount failed, a typo in -v ...).
        wrong = run_refused(worker("wrong-mount"), {**env, "ARTIFACT_DIR": str(local)})
        assert wrong == (
            f"rblock-pilot: ARTIFACT_DIR {local} is not the artifact store the API uses (it has no {MARKER} marker; "
            f"the database expects {store_id}): mount the shared store there (the same files as the API and the "
            "other workers)"
        ), wrong
        print(f"\nwrong artifact mount:\n  {wrong}")

        # The right store, writable: the worker starts and reports itself.
        good = processes.start("worker", worker("right-mount@test"), env)

        def reported() -> bool:
            assert good.alive(), good.text()[-3000:]
            return any(w.name == "right-mount@test" for w in store.list_workers(seen_within_s=60))

        wait_for("the worker on the right mount to report itself", reported, timeout_s=180, every_s=0.5)
    finally:
        store.dispose()
