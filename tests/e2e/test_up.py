"""``rblock-pilot up`` end to end on the embedded defaults: SQLite, the SQLite broker and local artifacts.

One command starts the API and a worker; the first start prints the one-time password of ``admin`` once,
which signs in, is replaced, and makes an API token; no route but the health check answers without
credentials; a pilot submitted with the token completes; SIGTERM stops both and the command exits 0, also
in the middle of a run, which then resumes when the service starts again (without a second first-start
line). Wrong database settings end with one line and exit code 2.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from backend.store import Store
from tests.support.processes import (
    FIRST_ADMIN_LINE,
    NEW_PASSWORD,
    UP,
    Proc,
    Processes,
    base_env,
    bearer,
    check_full_metrics,
    first_admin_password,
    free_port,
    pilot_body,
    routes_answering_without_credentials,
    sign_in_and_replace_password,
    start_up,
    submit,
    wait_for,
    wait_until_finished,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def stop_up(proc: Proc) -> tuple[int, float]:
    started = time.perf_counter()
    code = proc.stop(signal.SIGTERM, timeout_s=60)
    return code, time.perf_counter() - started


def test_up_runs_a_pilot_on_the_embedded_defaults_and_stops_cleanly(processes: Processes, tmp_path: Path) -> None:
    data_dir, port, epochs = tmp_path / "var", free_port(), 3
    settings = {"HEARTBEAT_TIMEOUT_S": "4", "RECONCILE_EVERY_S": "1"}
    up, client = start_up(processes, data_dir, port, **settings)
    assert client.get("/api/v1/health").status_code == 200
    assert client.get("/api/v1/pilots").status_code == 401

    # The first start's one-time password: printed once, it signs in once, to be replaced.
    one_time = first_admin_password(up.text())
    token = sign_in_and_replace_password(str(client.base_url), "admin", one_time, NEW_PASSWORD)
    open_routes = routes_answering_without_credentials(str(client.base_url), token)
    assert open_routes == {}, f"answered without credentials: {open_routes}"
    client.headers.update(bearer(token))

    started = time.perf_counter()
    pilot = submit(client, pilot_body("e2e up", arms=["none", "rblock_b"], seeds=2, epochs=epochs))
    runs = wait_until_finished(client, pilot["id"], timeout_s=300)
    elapsed = time.perf_counter() - started
    assert [run["status"] for run in runs] == ["succeeded"] * 4, [(r["id"], r["error"]) for r in runs]
    points = check_full_metrics(client, runs, epochs)
    store = Store(f"sqlite:///{data_dir / 'pilot.db'}")
    try:
        for run in runs:
            assert len(store.get_run(run_id=run["id"]).predictions or []) == 360
            # <run id>/attempt-<n>/checkpoint.pt (worker/runner.py's checkpoint_dir)
            assert list((data_dir / "artifacts" / str(run["id"])).rglob("checkpoint.pt")), run["id"]
    finally:
        store.dispose()
    assert (data_dir / "broker.db").exists()
    print(f"\nE2E up (SQLite): 4 runs x {epochs} epochs, submit -> succeeded {elapsed:.1f} s, {points} points")

    # Stopped in the middle of a run: both processes end, the command exits 0, the run waits to resume.
    long = submit(client, pilot_body("e2e up stop", arms=["none"], seeds=1, epochs=20))
    run_id = long["runs"][0]["id"]

    def two_epochs() -> bool:
        return bool(client.get(f"/api/v1/runs/{run_id}").json()["epochs_done"] >= 2)

    wait_for("the long run's second epoch", two_epochs, timeout_s=60)
    client.close()
    code, stop_s = stop_up(up)
    log = up.text()
    assert code == 0, log[-4000:]
    assert stop_s < 30, f"stopping took {stop_s:.1f} s"
    assert "Traceback" not in log, log[-4000:]
    assert f"run {run_id}: interrupted by the worker's shutdown" in log, log[-4000:]

    first_log = log
    # Started again on the same data: the reconciler requeues the run and it resumes from its checkpoint.
    # The users are kept: no second first-start line, and the token and the new password still work.
    up, client = start_up(processes, data_dir, free_port(), **settings)
    assert not FIRST_ADMIN_LINE.search(up.text()), up.text()[-4000:]
    signed_in = client.post("/api/v1/auth/login", json={"name": "admin", "password": NEW_PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    client.cookies.clear()
    client.headers.update(bearer(token))
    # Generous: under a loaded CI machine an epoch can take seconds instead of a fraction of one.
    finished = wait_until_finished(client, long["id"], timeout_s=300)
    assert finished[0]["status"] == "succeeded" and finished[0]["attempts"] == 2, finished[0]
    assert f"run {run_id}: resuming from the checkpoint" in up.text()
    client.close()
    code, stop_s = stop_up(up)
    assert code == 0
    # Neither password went anywhere else: not into a log line, not into a file of the data dir.
    logs = first_log + up.text()
    assert logs.count(one_time) == 1 and NEW_PASSWORD not in logs
    secrets = (one_time.encode(), NEW_PASSWORD.encode(), token.encode())
    for path in (p for p in data_dir.rglob("*") if p.is_file()):
        content = path.read_bytes()
        assert not any(secret in content for secret in secrets), f"a secret is in {path}"
    print(f"E2E up: stopped mid-run in {stop_s:.1f} s, exit 0; after a restart the run resumed and succeeded")


def run_up(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*UP, *args], env=base_env(**settings), capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    ("database_url", "message"),
    [
        ("postgresql+psycopg://postgres@127.0.0.1:1/nowhere", "rblock-pilot: cannot reach the database at"),
        ("not a url", "rblock-pilot: DATABASE_URL 'not a url' is not a database URL"),
    ],
)
def test_a_wrong_database_url_gives_one_line_and_exit_2(database_url: str, message: str, tmp_path: Path) -> None:
    result = run_up("--data-dir", str(tmp_path), "--port", str(free_port()), DATABASE_URL=database_url)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
