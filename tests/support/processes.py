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
import re
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

from pilot_cli.service import worker_command as service_worker_command

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# Every per-epoch metric of docs/design.md §3; consistency_kl only for the two-pass arms.
EPOCH_KEYS = frozenset(
    {"train_loss", "train_acc", "test_loss", "test_acc", "lr", "drop_rate", "epoch_seconds", "samples_per_second"}
)
TWO_PASS_KEYS = EPOCH_KEYS | {"consistency_kl"}
FINAL_KEYS = frozenset({"ece", "nll"})  # at the last epoch; inconsistency_kl and flip_rate where drops exist
T = TypeVar("T")
# The line ``rblock-pilot up`` and ``rblock-pilot api`` print once, on a database without users.
FIRST_ADMIN_LINE = re.compile(r"first start: sign in as 'admin' with the one-time password (\S+)")
# The only API routes that answer without credentials.
PUBLIC_ROUTES = frozenset({("GET", "/api/v1/health"), ("POST", "/api/v1/auth/login")})
# ``rblock-pilot up`` as a user runs it, and the password its tests give admin for the one-time one.
UP = [sys.executable, "-m", "pilot_cli.main", "up"]
NEW_PASSWORD = "the admin's own passphrase"


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


def embedded_worker_env(directory: Path, **settings: str) -> dict[str, str]:
    """The environment of a worker on the embedded defaults in ``directory`` (SQLite store and broker), plus
    ``settings``; the store is ``sqlite:///<directory>/pilot.db``."""
    return base_env(
        DATABASE_URL=f"sqlite:///{directory}/pilot.db",
        BROKER_URL=f"sqla+sqlite:///{directory}/broker.db",
        ARTIFACT_DIR=str(directory / "artifacts"),
        DATA_ROOT=str(directory / "data"),
        **settings,
    )


def worker_command(name: str, queues: str = "cpu") -> list[str]:
    return service_worker_command(queues=queues, name=f"{name}@%h", events=False)


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


# -- accounts ------------------------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def rblock_pilot(env: Mapping[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``rblock-pilot ARGS`` as a subprocess (on the database of ``env``), bounded in time."""
    return subprocess.run(
        [sys.executable, "-m", "pilot_cli.main", *args],
        env=dict(env),
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def cli_user_and_token(env: Mapping[str, str], name: str, role: str, password: str) -> str:
    """A user made with ``rblock-pilot user add --password-stdin`` and a token from ``rblock-pilot token create``."""
    added = rblock_pilot(env, "user", "add", name, "--role", role, "--password-stdin", stdin=password + "\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout == "", added.stdout  # a chosen password: no one-time password to print
    assert f"added {name} ({role})" in added.stderr, added.stderr
    created = rblock_pilot(env, "token", "create", name, "--name", "e2e")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert created.stdout == token + "\n" and re.fullmatch(r"rbp_[A-Za-z0-9_-]{43}", token), created.stdout
    return token


def first_admin_password(output: str) -> str:
    """The one-time password of the first start's line, which must be printed exactly once."""
    found = FIRST_ADMIN_LINE.findall(output)
    assert len(found) == 1, f"the first start's password line appears {len(found)} times:\n{output[-4000:]}"
    password: str = found[0]
    assert output.count(password) == 1, "the one-time password appears outside its line"
    return password


def sign_in_and_replace_password(base: str, name: str, one_time: str, new_password: str) -> str:
    """Sign in with a one-time password, choose ``new_password``, and return a new API token.

    Before the change the session may do nothing else (403); each change carries the session's CSRF token.
    """
    with httpx.Client(base_url=base, timeout=30) as client:
        signed_in = client.post("/api/v1/auth/login", json={"name": name, "password": one_time})
        assert signed_in.status_code == 200, signed_in.text
        me = signed_in.json()
        assert me["user"]["must_change_password"] is True and me["via"] == "session", me
        assert client.cookies.get("rbp_session"), signed_in.headers
        blocked = client.get("/api/v1/pilots")
        assert blocked.status_code == 403 and "one-time password" in blocked.json()["detail"], blocked.text
        change = {"current_password": one_time, "new_password": new_password}
        no_csrf = client.put("/api/v1/auth/password", json=change)
        assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["detail"], no_csrf.text
        changed = client.put("/api/v1/auth/password", json=change, headers={"X-CSRF-Token": me["csrf_token"]})
        assert changed.status_code == 200, changed.text
        me = changed.json()
        assert me["user"]["must_change_password"] is False and me["csrf_token"], me
        assert client.get("/api/v1/pilots").status_code == 200  # the fresh session reads now
        made = client.post("/api/v1/auth/tokens", json={"name": "e2e"}, headers={"X-CSRF-Token": me["csrf_token"]})
        assert made.status_code == 201, made.text
        token: str = made.json()["token"]
        old = client.post("/api/v1/auth/login", json={"name": name, "password": one_time})
        assert old.status_code == 401, old.text  # the one-time password is spent
    return token


def routes_answering_without_credentials(base: str, token: str) -> dict[str, int]:
    """Every route of the API's OpenAPI document (and /metrics) asked without credentials.

    Returns the ones that did not answer 401 with ``WWW-Authenticate: Bearer``, besides ``PUBLIC_ROUTES``;
    path parameters are 1, bodies ``{}``.
    """
    schema = httpx.get(f"{base}/api/v1/openapi.json", headers=bearer(token), timeout=30).json()
    routes = [
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert ("GET", "/metrics") in routes and ("GET", "/api/v1/pilots") in routes and len(routes) > 20, routes
    answered: dict[str, int] = {}
    with httpx.Client(base_url=base, timeout=30) as anonymous:
        for method, path in routes:
            url = re.sub(r"\{[^}]+\}", "1", path)
            response = anonymous.request(method, url, json=None if method in ("GET", "DELETE") else {})
            refused = response.status_code == 401 and response.headers.get("www-authenticate") == "Bearer"
            if (method, path) not in PUBLIC_ROUTES and not refused:
                answered[f"{method} {path}"] = response.status_code
        assert anonymous.get("/api/v1/health").status_code == 200
        wrong = anonymous.get("/api/v1/pilots", headers=bearer("rbp_" + "x" * 43))
        if wrong.status_code != 401:
            answered["GET /api/v1/pilots with a made-up token"] = wrong.status_code
    return answered


def start_up(processes: Processes, data_dir: Path, port: int, **settings: str) -> tuple[Proc, httpx.Client]:
    """Start ``rblock-pilot up`` on ``data_dir`` and ``port``; once it prints its URL: (process, client for it)."""
    proc = processes.start("up", [*UP, "--data-dir", str(data_dir), "--port", str(port)], base_env(**settings))
    url = f"http://127.0.0.1:{port}"

    def running() -> bool:
        if not proc.alive():
            raise AssertionError(f"rblock-pilot up exited with {proc.process.returncode}:\n{proc.text()[-4000:]}")
        text = proc.text()
        # The last line of the start: after the URL and, on a first start, the one-time password.
        return f"R-Block Pilot is running at {url}" in text and "Press Ctrl-C to stop." in text

    wait_for("rblock-pilot up to print its URL", running, timeout_s=120, every_s=0.2)
    return proc, httpx.Client(base_url=url, timeout=10)
