"""End-to-end helpers: real processes (uvicorn, Celery workers, ``rblock-pilot up``) and real servers.

Every test module here marks its tests ``e2e`` and puts them in the xdist group ``e2e`` (one process, one
after another): they start processes that train on the machine's cores, and timings (cancel within 5 s)
mean little when two of them compete.

PostgreSQL (127.0.0.1:5432, user postgres) gets a fresh database per module; Redis (127.0.0.1:6379) a
database number of the module's own, flushed at the start and the end. A server that is not running here
skips the tests that need it, with the reason; CI starts both (``.ci/run``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# Every per-epoch metric of DESIGN §3; consistency_kl only for the two-pass arms.
EPOCH_KEYS = frozenset(
    {"train_loss", "train_acc", "test_loss", "test_acc", "lr", "drop_rate", "epoch_seconds", "samples_per_second"}
)
TWO_PASS_KEYS = EPOCH_KEYS | {"consistency_kl"}
FINAL_KEYS = frozenset({"ece", "nll"})  # at the last epoch; inconsistency_kl and flip_rate where drops exist
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(what: str, check: Callable[[], T | None], timeout_s: float, every_s: float = 0.1) -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)


@dataclass
class Proc:
    """A child process with its output in a log file (shown when a test fails)."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 20.0) -> int:
        if self.alive():
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)


@dataclass
class Processes:
    """Starts children and guarantees they are stopped (by their own pid) when the test ends."""

    directory: Path
    started: list[Proc] = field(default_factory=list)

    def start(self, name: str, command: list[str], env: Mapping[str, str]) -> Proc:
        log = self.directory / f"{name}-{len(self.started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(command, env=dict(env), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        proc = Proc(name=name, process=process, log=log)
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()

    def report(self) -> str:
        return "\n".join(f"----- {p.name} ({p.log}) -----\n{p.text()[-4000:]}" for p in self.started)


def base_env(**settings: str) -> dict[str, str]:
    """This environment without the service's settings, plus ``settings`` (upper-case names)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "BROKER_URL", "ARTIFACT_DIR", "HEARTBEAT_TIMEOUT_S", "RECONCILE_EVERY_S")
    }
    env.update(settings)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def worker_command(name: str, queues: str = "cpu") -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker.celery_app",
        "worker",
        "--pool",
        "solo",
        "--concurrency",
        "1",
        "--prefetch-multiplier",
        "1",
        "-Q",
        queues,
        "-n",
        f"{name}@%h",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
    ]


def api_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "backend.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def pilot_body(
    name: str, *, arms: list[str], seeds: int, epochs: int, width: int = 16, queue: str = "cpu"
) -> dict[str, Any]:
    return {
        "name": name,
        "dataset": "digits",
        "model": "small_cnn",
        "width": width,
        "training": {"epochs": epochs},
        "arms": [{"regularizer": arm} for arm in arms],
        "seeds": seeds,
        "queue": queue,
    }


def submit(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/pilots", json=body)
    assert response.status_code == 201, response.text
    pilot: dict[str, Any] = response.json()["pilot"]
    return pilot


def runs_of(client: httpx.Client, pilot_id: int) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/pilots/{pilot_id}")
    assert response.status_code == 200, response.text
    runs: list[dict[str, Any]] = response.json()["runs"]
    return runs


def wait_until_finished(client: httpx.Client, pilot_id: int, timeout_s: float) -> list[dict[str, Any]]:
    def finished() -> list[dict[str, Any]] | None:
        runs = runs_of(client, pilot_id)
        return runs if all(run["status"] in ("succeeded", "failed", "cancelled") for run in runs) else None

    return wait_for(f"every run of pilot {pilot_id} to finish", finished, timeout_s, every_s=0.25)


def check_full_metrics(client: httpx.Client, runs: list[dict[str, Any]], epochs: int) -> int:
    """Every run has every DESIGN metric for every epoch, once; returns the number of points read."""
    total = 0
    for run in runs:
        response = client.get(f"/api/v1/runs/{run['id']}/metrics", params={"format": "rows"})
        assert response.status_code == 200, response.text
        points = response.json()["points"]
        total += len(points)
        seen = [(p["key"], p["epoch"]) for p in points]
        assert len(seen) == len(set(seen)), f"run {run['id']} has a duplicated point"
        keys_by_epoch: dict[int, set[str]] = {}
        for key, epoch in seen:
            keys_by_epoch.setdefault(epoch, set()).add(key)
        assert sorted(keys_by_epoch) == list(range(1, epochs + 1)), run
        expected = TWO_PASS_KEYS if run["config"]["arm"] in ("rdrop", "rblock_b", "rblock_s") else EPOCH_KEYS
        for epoch, keys in keys_by_epoch.items():
            assert expected <= keys, (run["id"], epoch, expected - keys)
        assert keys_by_epoch[epochs] >= FINAL_KEYS
    return total
