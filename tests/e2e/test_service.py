"""The service end to end on its production parts: PostgreSQL, Redis, the API (uvicorn) and Celery workers.

Each piece is a real process: ``rblock-pilot api`` serves the API on a free port; workers are started as
``python -m celery -A worker.celery_app worker --pool solo`` (and ``rblock-pilot worker``) subprocesses.
Pilots are submitted over HTTP with an API token: the API creates ``admin`` on its first start (and prints
its one-time password once); the test's own engineer and token come from ``rblock-pilot user add`` and
``rblock-pilot token create`` on the same database.

The heartbeat timeout is 6 s and the API's reconciler runs every second, so a worker killed mid-run is
noticed within seconds (production: minutes).
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from backend.store import Store
from tests.support.api import PASSWORD
from tests.support.processes import (
    TWO_PASS_KEYS,
    Proc,
    Processes,
    base_env,
    bearer,
    check_full_metrics,
    cli_user_and_token,
    first_admin_password,
    free_port,
    pilot_body,
    rblock_pilot,
    submit,
    wait_for,
    wait_until_finished,
    worker_command,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

# Long enough that a loaded CI machine (2 cores, a test suite beside the workers) misses no heartbeat.
HEARTBEAT_TIMEOUT_S = 10
USER = "tester"


@dataclass
class Stack:
    env: dict[str, str]
    client: httpx.Client
    store: Store
    processes: Processes
    api: Proc

    def start_worker(self, name: str, queues: str = "cpu") -> Proc:
        """A Celery worker subprocess, returned once it has reported itself to the API."""
        proc = self.processes.start(name, worker_command(name, queues), self.env)
        wait_for(f"worker {name} to report itself", lambda: self.worker_seen(name, proc), timeout_s=120, every_s=0.25)
        return proc

    def worker_seen(self, name: str, proc: Proc) -> bool:
        if not proc.alive():
            raise AssertionError(f"worker {name} exited:\n{proc.text()[-3000:]}")
        workers = self.client.get("/api/v1/workers").json()["workers"]
        return any(worker["name"].startswith(f"{name}@") for worker in workers)


@pytest.fixture(scope="module")
def stack(postgres_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("service")
    env = base_env(
        DATABASE_URL=postgres_url,
        BROKER_URL=redis_url,
        ARTIFACT_DIR=str(directory / "artifacts"),
        HEARTBEAT_TIMEOUT_S=str(HEARTBEAT_TIMEOUT_S),
        RECONCILE_EVERY_S="1",
    )
    processes = Processes(directory)
    port = free_port()
    api = processes.start("api", [sys.executable, "-m", "pilot_cli.main", "api", "--port", str(port)], env)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)

    def healthy() -> bool:
        if not api.alive():
            raise AssertionError(f"the API exited:\n{api.text()[-3000:]}")
        try:
            return client.get("/api/v1/health").status_code == 200
        except httpx.TransportError:
            return False

    store = Store(postgres_url)
    try:
        wait_for("the API's health check", healthy, timeout_s=60, every_s=0.2)
        first_admin_password(api.text())  # the first start made `admin`, and said so once
        refused = client.get("/api/v1/workers")
        assert refused.status_code == 401, refused.text
        token = cli_user_and_token(env, USER, "engineer", PASSWORD)
        client.headers.update(bearer(token))
        me = client.get("/api/v1/auth/me")
        assert me.status_code == 200 and me.json()["user"]["name"] == USER and me.json()["via"] == "token", me.text
        users = rblock_pilot(env, "user", "list")
        assert users.stdout.splitlines() == ["admin\tadmin\tmust change password", f"{USER}\tengineer\tactive"], users
        yield Stack(env=env, client=client, store=store, processes=processes, api=api)
    except BaseException:
        print(processes.report())
        raise
    finally:
        client.close()
        store.dispose()
        processes.stop_all()


@pytest.fixture(scope="module")
def cpu_worker(stack: Stack) -> Proc:
    """One worker on the ``cpu`` queue, shared by the tests of this module."""
    return stack.start_worker("e2e-cpu", "cpu")


@pytest.mark.usefixtures("cpu_worker")
def test_a_pilot_of_two_arms_and_two_seeds_succeeds_with_full_metrics(stack: Stack) -> None:
    epochs = 3
    started = time.perf_counter()
    pilot = submit(stack.client, pilot_body("e2e redis", arms=["none", "rblock_b"], seeds=2, epochs=epochs))
    assert pilot["created_by"] == USER  # the token's user owns what it submits
    runs = wait_until_finished(stack.client, pilot["id"], timeout_s=300)
    elapsed = time.perf_counter() - started
    assert [run["status"] for run in runs] == ["succeeded"] * 4, [(r["id"], r["status"], r["error"]) for r in runs]
    points = check_full_metrics(stack.client, runs, epochs)
    for run in runs:
        assert run["worker_host"] and run["device"] == "cpu" and run["attempts"] == 1
        assert run["cost"]["device_hours"] > 0 and run["final_metrics"]["test_acc"] > 0.5
        stored = stack.store.get_run(run_id=run["id"])
        assert stored.predictions is not None and len(stored.predictions) == 360  # the digits test split
    print(
        f"\nE2E PostgreSQL+Redis: 4 runs x {epochs} epochs, submit -> all succeeded in {elapsed:.1f} s, {points} points"
    )


@pytest.mark.usefixtures("cpu_worker")
def test_cancelling_a_running_run_stops_it_within_5_s(stack: Stack) -> None:
    pilot = submit(stack.client, pilot_body("e2e cancel", arms=["none"], seeds=1, epochs=400))
    run_id = pilot["runs"][0]["id"]

    def training() -> bool:
        run = stack.client.get(f"/api/v1/runs/{run_id}").json()
        return run["status"] == "running" and run["epochs_done"] >= 1

    wait_for("the run to train its first epoch", training, timeout_s=60)
    started = time.perf_counter()
    response = stack.client.post(f"/api/v1/runs/{run_id}/cancel")
    assert response.status_code == 200, response.text

    def cancelled() -> dict[str, Any] | None:
        run: dict[str, Any] = stack.client.get(f"/api/v1/runs/{run_id}").json()
        return run if run["status"] == "cancelled" else None

    run = wait_for("the run to read cancelled", cancelled, timeout_s=10, every_s=0.05)
    elapsed = time.perf_counter() - started
    assert elapsed < 5.0, f"cancelled after {elapsed:.1f} s"
    assert 1 <= run["epochs_done"] < 400
    print(f"\nE2E cancel: stopped {elapsed:.2f} s after the request, after {run['epochs_done']} epochs")


@pytest.mark.usefixtures("cpu_worker")
def test_a_run_whose_worker_is_killed_resumes_from_its_checkpoint(stack: Stack) -> None:
    # The `gpu` queue (trained on the CPU here) keeps the module's cpu worker away from this run, so the
    # only workers that can take it are the one killed and the one started after.
    epochs = 24
    first = stack.start_worker("e2e-doomed", "gpu")
    pilot = submit(stack.client, pilot_body("e2e kill", arms=["rblock_b"], seeds=1, epochs=epochs, queue="gpu"))
    run_id = pilot["runs"][0]["id"]

    def two_epochs_stored() -> dict[int, float] | None:
        points = stack.store.get_points(run_ids=[run_id], keys=["epoch_seconds"])
        return {p.epoch: p.value for p in points} if len(points) >= 2 else None

    wait_for("the second epoch's points", two_epochs_stored, timeout_s=90, every_s=0.02)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=10)
    before = {p.epoch: p.value for p in stack.store.get_points(run_ids=[run_id], keys=["epoch_seconds"])}
    killed_at = stack.store.get_run(run_id=run_id)
    assert killed_at.status == "running" and killed_at.attempts == 1, killed_at
    assert 2 <= len(before) < epochs

    second = stack.processes.start(
        "e2e-rescuer",
        [
            sys.executable,
            "-m",
            "pilot_cli.main",
            "worker",
            "--queues",
            "gpu",
            "--device",
            "cpu",
            "--name",
            "rescuer@e2e",
        ],
        stack.env,
    )
    started = time.perf_counter()
    runs = wait_until_finished(stack.client, pilot["id"], timeout_s=300)
    recovered = time.perf_counter() - started
    run = runs[0]
    assert run["status"] == "succeeded", (run["status"], run["error"], second.text()[-3000:])
    assert run["attempts"] == 2
    log = second.text()
    assert f"run {run_id}: claimed" in log and "attempt 2" in log, log[-3000:]
    assert f"run {run_id}: resuming from the checkpoint" in log, log[-3000:]

    # Training went on from the checkpoint: the epochs stored before the kill were not trained again.
    after = {p.epoch: p.value for p in stack.store.get_points(run_ids=[run_id], keys=["epoch_seconds"])}
    assert {epoch: after[epoch] for epoch in before} == before
    # Exactly one point per (key, epoch), every key of every epoch.
    points = stack.store.get_points(run_ids=[run_id])
    pairs = [(p.key, p.epoch) for p in points]
    assert len(pairs) == len(set(pairs))
    for key in TWO_PASS_KEYS:
        assert sorted(epoch for k, epoch in pairs if k == key) == list(range(1, epochs + 1)), key
    expected = len(TWO_PASS_KEYS) * epochs + len({"ece", "nll", "inconsistency_kl", "flip_rate"})
    assert len(points) == expected

    # The same points written again (a retried write) stay one row each.
    again = [(p.key, p.epoch, p.value) for p in points]
    stack.store.write_points(run_id=run_id, points=again)
    stack.store.write_points(run_id=run_id, points=again[:5])
    assert len(stack.store.get_points(run_ids=[run_id])) == expected
    print(
        f"\nE2E kill: killed after {len(before)} of {epochs} epochs; resumed on a second worker "
        f"(attempt {run['attempts']}), succeeded {recovered:.1f} s after it started; "
        f"points expected {expected}, stored {len(points)}"
    )


def test_the_worker_registers_the_task_the_api_sends(cpu_worker: Proc) -> None:
    from backend.queue import TASK_NAME

    # Celery's banner lists the registered tasks of the worker process itself.
    assert f". {TASK_NAME}" in cpu_worker.text()


@pytest.mark.usefixtures("cpu_worker")
def test_a_sequential_pilot_runs_its_rounds_until_it_stops(stack: Stack) -> None:
    """The API's reconciler looks after each round and queues the next one (or stops) with real workers."""
    body = pilot_body("e2e sequential", arms=["none", "dropout"], seeds=2, epochs=1, width=8)
    body.pop("seeds")
    body["sequential"] = {"max_seeds": 4, "round": 2}
    pilot = submit(stack.client, body)
    assert pilot["seeds"] == [0, 1] and len(pilot["runs"]) == 4

    def stopped() -> dict[str, Any] | None:
        plan = stack.client.get(f"/api/v1/pilots/{pilot['id']}/summary?curves=none").json()["sequential"]
        return plan if plan["stopped"] else None

    plan = wait_for("the sequential pilot to stop", stopped, timeout_s=400, every_s=1.0)
    runs = wait_until_finished(stack.client, pilot["id"], timeout_s=60)
    assert all(run["status"] == "succeeded" for run in runs), [(r["id"], r["status"], r["error"]) for r in runs]
    # Seeds come a round at a time, every arm of a seed back to back; nothing was cancelled.
    assert len(runs) == 2 * plan["seeds"] and plan["seeds"] in (2, 4)
    assert [(r["seed"], r["arm"]) for r in sorted(runs, key=lambda r: r["id"])] == [
        (seed, arm) for seed in range(plan["seeds"]) for arm in ("none", "dropout")
    ]
    assert len(plan["history"]) == plan["seeds"] // 2 and plan["device_hours_used"] > 0
    assert plan["rule"].startswith(("settled at look", "reached max_seeds at look 2 of 2"))
    assert plan["device_hours_saved"] == pytest.approx(0.0) or plan["seeds"] == 2
