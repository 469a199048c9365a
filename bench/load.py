"""Benchmark: 50 concurrent clients for 60 s on the pages and the JSON a dashboard reads, while a pilot trains.

Not a test. Starts the real system on loopback with the embedded defaults in a temporary folder: the app
(``pilot_cli.webapp``: API + pages) served by uvicorn on a free port with ``rblock-pilot up``'s command
line (``--api-workers``, default as ``up``: one process per core, at most 4), and one Celery worker process
(solo pool) on SQLite with kombu's SQLAlchemy broker. Submits a pilot on ``digits`` with more epochs than
the benchmark lasts, waits until its first run is training, and then, with locust (headless,
``bench/locustfile.py``), measures while it trains:

1. baseline: one client for 15 s on the same four requests (latency without contention);
2. the load: 50 clients for 60 s, no think time, on ``/`` (pilots page), ``/pilots/{id}`` (pilot page),
   ``/api/v1/pilots/{id}/summary`` and ``/api/v1/pilots/{id}/metrics?format=columns&keys=test_acc``;
3. baseline: the same 50 clients for 20 s on ``/api/v1/health`` (the server's rate on a trivial route).

Prints requests, errors (goal 0), throughput and p50/p95/p99 per endpoint and overall, each latency as a
ratio to the single client's and the throughput as a ratio to both baselines'; the CPU each process
used; the epochs the worker trained during the load; the server's own request counts from ``/metrics``
beside locust's (one process's, under several); the load average before and after; and a PASS/FAIL line
for each goal of issue 13 §2 (throughput >= 1.5x the single client's, p95 <= 300 ms on the pilot page and
on the summary, no errors). On a 2-core machine the worker is given one torch thread (``--worker-threads``)
so that it trains on one core; the API and locust get the rest (nothing is pinned). The worker is started
with ``up``'s own command line (``pilot_cli.service.worker_command``), so it trains at ``WORKER_NICE``
(``--worker-nice N`` sets it for a before/after comparison; the header prints the niceness it got).

Run: ``.venv/bin/python bench/load.py`` (needs ``pip install -e '.[bench]'`` for locust; from a git worktree
other than the one the venv was installed from, prefix ``PYTHONPATH=$PWD``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from locustfile import HEALTH, METRICS, PILOT_PAGE, PILOTS_PAGE, SUMMARY
from prometheus_client.parser import text_string_to_metric_families
from serving import free_port

from backend.store import Store
from pilot_cli.service import api_command as service_api_command
from pilot_cli.service import default_api_workers
from pilot_cli.service import worker_command as service_worker_command

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = Path(__file__).resolve().with_name("locustfile.py")
ENDPOINTS = (PILOTS_PAGE, PILOT_PAGE, SUMMARY, METRICS)
# Each endpoint's route template in the server's /metrics (backend.observability labels by template).
SERVER_ROUTES = {
    PILOTS_PAGE: "/",
    PILOT_PAGE: "/pilots/{pilot_id}",
    SUMMARY: "/api/v1/pilots/{pilot_id}/summary",
    METRICS: "/api/v1/pilots/{pilot_id}/metrics",
}
READY_TIMEOUT_S = 180.0  # importing torch alone takes seconds on a small machine
GOAL_RATIO, GOAL_P95_MS = 1.5, 300.0  # issue 13 §2: under 50 clients, against one client in the same run
PILOT_EPOCHS = 1_000  # the default MAX_EPOCHS limit: far more than the benchmark lasts; cancelled at the end


def _auth_headers(base_url: str, database_url: str) -> dict[str, str]:
    """The headers that authenticate every request of the benchmark; the one place that knows about auth.

    Every route but the health check and signing in needs ``Authorization: Bearer <API token>``. The
    benchmark is its own administrator: it creates an ``engineer`` (may submit and read pilots) in the
    fresh database and issues an API token to it with ``backend.auth.accounts``, as an admin would.
    ``base_url`` is there for a login over HTTP instead, should tokens ever be issued only that way.
    """
    del base_url  # the token is issued in the database; see the docstring
    from backend.auth.accounts import create_user, issue_token
    from backend.auth.secrets import new_password

    store = Store(database_url)
    try:
        create_user(store, name="load-bench", role="engineer", password=new_password())
        _, token = issue_token(store, user_name="load-bench", label="bench/load.py")
    finally:
        store.dispose()
    return {"Authorization": f"Bearer {token}"}


# -- the system under test ----------------------------------------------------------------------------


@dataclass
class Service:
    base: str
    database_url: str
    api: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    logs: Path


def _service_env(folder: Path, **extra: str) -> dict[str, str]:
    """This environment with the embedded defaults under ``folder`` (as ``rblock-pilot up`` sets them)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BROKER_URL", "ARTIFACT_DIR", "DATA_ROOT")}
    env.update(
        DATABASE_URL=f"sqlite:///{folder / 'pilot.db'}",
        BROKER_URL=f"sqla+sqlite:///{folder / 'broker.db'}",
        ARTIFACT_DIR=str(folder / "artifacts"),
        DATA_ROOT=str(folder / "data"),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def _start(command: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, env=dict(env), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM this child (by its own pid), then SIGKILL if it has not exited within 20 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait(what: str, check: Any, service_processes: list[subprocess.Popen[bytes]], logs: Path) -> Any:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        for process in service_processes:
            if process.poll() is not None:
                raise SystemExit(f"bench/load.py: a service process exited while waiting for {what}; logs in {logs}")
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise SystemExit(f"bench/load.py: timed out waiting for {what}; logs in {logs}")


@contextmanager
def running_service(
    folder: Path, worker_threads: int, api_workers: int = 1, worker_nice: int | None = None
) -> Iterator[Service]:
    """The API (uvicorn) and one worker (Celery, solo pool) on the embedded defaults, stopped at the end."""
    env = _service_env(folder)
    database_url = env["DATABASE_URL"]
    store = Store(database_url)
    store.upgrade()  # as `rblock-pilot up` migrates before it starts the children
    port = free_port()
    # uvicorn's command line exactly as `rblock-pilot up` and `api --workers N` run it (no trusted proxies).
    api_command = service_api_command("127.0.0.1", port, "", api_workers)
    # The worker's command line exactly as `up` and `rblock-pilot worker` run it (it lowers its own priority).
    worker_command = service_worker_command(queues="cpu", name="load-bench@%h", events=False)
    # torch takes one thread per core by default; the worker gets `worker_threads` of them.
    threads = str(worker_threads)
    worker_env = {**env, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    if worker_nice is not None:
        worker_env["WORKER_NICE"] = str(worker_nice)
    worker = _start(worker_command, worker_env, folder / "worker.log")
    api = _start(api_command, env, folder / "api.log")
    base = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        _wait("the API's health check", healthy, [api, worker], folder)
        _wait("the worker to report itself", lambda: store.list_workers(seen_within_s=60), [api, worker], folder)
        yield Service(base=base, database_url=database_url, api=api, worker=worker, logs=folder)
    finally:
        store.dispose()
        _stop(api)
        _stop(worker)


def _submit_training_pilot(client: httpx.Client, service: Service) -> int:
    """A pilot whose first run trains for longer than the benchmark; returns its id once training."""
    body = {
        "name": "bench/load.py: trains during the load",
        "dataset": "digits",
        "model": "small_cnn",
        "width": 16,
        "training": {"epochs": PILOT_EPOCHS},
        "arms": [{"regularizer": "none"}, {"regularizer": "rblock_s"}],
        "seeds": 1,
        "queue": "cpu",
    }
    response = client.post("/api/v1/pilots", json=body)
    if response.status_code != 201:
        raise SystemExit(f"bench/load.py: submitting the pilot failed: {response.status_code} {response.text}")
    pilot_id = int(response.json()["pilot"]["id"])

    def training() -> bool:
        runs = client.get(f"/api/v1/pilots/{pilot_id}").json()["runs"]
        return any(run["status"] == "running" and run["epochs_done"] >= 2 for run in runs)

    _wait("the pilot's first run to train two epochs", training, [service.api, service.worker], service.logs)
    return pilot_id


def _epochs_done(client: httpx.Client, pilot_id: int) -> tuple[int, bool]:
    """Epochs trained so far over the pilot's runs, and whether a run is still training."""
    runs = client.get(f"/api/v1/pilots/{pilot_id}").json()["runs"]
    return sum(int(run["epochs_done"]) for run in runs), any(run["status"] == "running" for run in runs)


def _server_counts(client: httpx.Client) -> dict[str, float]:
    """Requests counted by the server's /metrics, by route template (every method and status)."""
    response = client.get("/metrics")
    response.raise_for_status()
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "rblock_pilot_http_requests_total":
                route = sample.labels["route"]
                counts[route] = counts.get(route, 0.0) + sample.value
    return counts


# -- measuring ----------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of locust's stats: an endpoint, or "Aggregated" for all of them."""

    name: str
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float


@dataclass
class Phase:
    rows: dict[str, Row]
    seconds: float
    locust_cpu_s: float
    warnings: list[str]
    failures: list[str]


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds a running process and its live children (uvicorn's workers) have used
    (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(_cpu_s(int(child)) or 0.0 for child in children)


def _niceness(pid: int) -> int | None:
    """A running process's niceness (Linux /proc: field 19 of stat), or None."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
    except (OSError, IndexError, ValueError):
        return None


def _locust(base: str, user_class: str, users: int, seconds: int, folder: Path, env: Mapping[str, str]) -> Phase:
    """Run locust headless as a child process and read its CSV; locust's exit code is not an error here."""
    prefix = folder / f"{user_class}-{users}u"
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", base]
    command += ["-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--csv", str(prefix)]
    command += ["--only-summary", "--stop-timeout", "10", "--exit-code-on-error", "0", "--loglevel", "WARNING"]
    command.append(user_class)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=dict(env), cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    (folder / f"{prefix.name}.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"bench/load.py: locust failed ({done.returncode}):\n{done.stderr[-3000:]}")
    rows = {}
    with open(f"{prefix}_stats.csv", newline="") as stats:
        for line in csv.DictReader(stats):
            name = line["Name"]
            rows[name] = Row(
                name=name,
                requests=int(line["Request Count"]),
                failures=int(line["Failure Count"]),
                rps=float(line["Requests/s"]),
                p50=float(line["50%"]),
                p95=float(line["95%"]),
                p99=float(line["99%"]),
            )
    failures = []
    with open(f"{prefix}_failures.csv", newline="") as failed:
        failures = [f"{line['Occurrences']} x {line['Name']}: {line['Error']}" for line in csv.DictReader(failed)]
    # Locust warns when its own process saturates a core: its figures are then the generator's limit.
    warnings = [line.strip() for line in (done.stdout + done.stderr).splitlines() if "CPU usage" in line]
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Phase(rows=rows, seconds=elapsed, locust_cpu_s=cpu, warnings=warnings, failures=failures)


def _ratio(value: float, base: float) -> str:
    return (f"{value / base:5.1f}x" if value >= base else f"{value / base:5.2f}x") if base > 0 else "    -"


def _print_phase(title: str, phase: Phase, single: Phase | None) -> None:
    print(f"\n## {title}")
    header = (
        f"  {'endpoint':62s} {'requests':>8s} {'errors':>6s} {'req/s':>7s}   {'p50':>6s} {'p95':>6s} {'p99':>6s} ms"
    )
    if single is not None:
        header += "    p50 / p95 / p99 vs 1 client"
    print(header)
    names = [name for name in (*ENDPOINTS, HEALTH) if name in phase.rows] + ["Aggregated"]
    for name in names:
        row = phase.rows[name]
        label = "overall" if name == "Aggregated" else name
        line = (
            f"  {label:62s} {row.requests:8d} {row.failures:6d} {row.rps:7.1f}   "
            f"{row.p50:6.0f} {row.p95:6.0f} {row.p99:6.0f}"
        )
        base = single.rows.get(name) if single is not None else None
        if base is not None:
            line += f"      {_ratio(row.p50, base.p50)} {_ratio(row.p95, base.p95)} {_ratio(row.p99, base.p99)}"
        print(line)
    for failure in phase.failures:
        print(f"  error: {failure}")
    for warning in phase.warnings:
        print(f"  locust: {warning}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--seconds", type=int, default=60, help="length of the load (default 60)")
    parser.add_argument("--single-seconds", type=int, default=15, help="length of the 1-client baseline (15)")
    parser.add_argument("--health-seconds", type=int, default=20, help="length of the health baseline (20)")
    parser.add_argument("--worker-threads", type=int, default=1, help="torch threads of the worker (default 1)")
    parser.add_argument(
        "--api-workers",
        type=int,
        default=default_api_workers(),
        help="uvicorn processes, as `rblock-pilot api --workers`; default as `up`: min(4, cores) = %(default)s",
    )
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=None,
        help="the worker's WORKER_NICE (default: the setting's, as `up` runs it; 0 trains at the API's priority)",
    )
    args = parser.parse_args()
    load_1m, load_5m, _ = os.getloadavg()  # other work on the machine skews every figure: say how much

    with (
        tempfile.TemporaryDirectory(prefix="rblock-load-") as tmp,
        running_service(Path(tmp), args.worker_threads, args.api_workers, args.worker_nice) as service,
    ):
        headers = _auth_headers(service.base, service.database_url)
        locust_env = {**os.environ, "LOAD_HEADERS": json.dumps(headers)}
        with httpx.Client(base_url=service.base, headers=headers, timeout=30) as client:
            pilot_id = _submit_training_pilot(client, service)
            locust_env["LOAD_PILOT_ID"] = str(pilot_id)
            for path in ("/", f"/pilots/{pilot_id}", f"/api/v1/pilots/{pilot_id}/summary"):
                client.get(path).raise_for_status()  # warm-up: templates compiled, imports done

            print(
                f"# bench/load.py on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
                f"uvicorn ({args.api_workers} process{'es' if args.api_workers > 1 else ''}) on {service.base}, "
                f"Celery worker (solo pool, {args.worker_threads} torch thread, niceness "
                f"{_niceness(service.worker.pid)}), SQLite + SQLAlchemy broker"
            )
            print(f"# load average before the benchmark started: {load_1m:.2f} (1 min), {load_5m:.2f} (5 min)")
            print(
                f"# pilot {pilot_id}: digits, small_cnn width 16, {PILOT_EPOCHS} epochs, training during every "
                "phase; locust FastHttpUser, no think time, on this machine"
            )

            epochs_start, _ = _epochs_done(client, pilot_id)
            single = _locust(service.base, "PilotViewer", 1, args.single_seconds, service.logs, locust_env)
            epochs_before, _ = _epochs_done(client, pilot_id)
            server_before = _server_counts(client)
            api_cpu, worker_cpu = _cpu_s(service.api.pid), _cpu_s(service.worker.pid)
            load = _locust(service.base, "PilotViewer", args.users, args.seconds, service.logs, locust_env)
            api_cpu_after, worker_cpu_after = _cpu_s(service.api.pid), _cpu_s(service.worker.pid)
            server_after = _server_counts(client)
            epochs_after, still_training = _epochs_done(client, pilot_id)
            health = _locust(service.base, "HealthChecker", args.users, args.health_seconds, service.logs, locust_env)
            _, training_at_end = _epochs_done(client, pilot_id)

            _print_phase(f"baseline: 1 client, {args.single_seconds} s, the same four requests", single, None)
            _print_phase(f"load: {args.users} clients, {args.seconds} s", load, single)
            _print_phase(f"baseline: {args.users} clients, {args.health_seconds} s, /api/v1/health", health, None)

            overall, health_row = load.rows["Aggregated"], health.rows["Aggregated"]
            one = single.rows["Aggregated"]
            print(
                f"\n  throughput under load {overall.rps:.1f} req/s = {_ratio(overall.rps, one.rps).strip()} the "
                f"single client's {one.rps:.1f} req/s on the same requests, "
                f"{_ratio(overall.rps, health_row.rps).strip()} the health route's {health_row.rps:.1f} req/s "
                "at the same concurrency"
            )
            print(f"  errors {overall.failures} of {overall.requests} (goal 0)")
            if api_cpu is not None and api_cpu_after is not None and worker_cpu is not None and worker_cpu_after:
                seconds = load.seconds
                print(
                    f"  CPU during the load phase (cores, over its {seconds:.0f} s wall time with locust's start): "
                    f"API {(api_cpu_after - api_cpu) / seconds:.2f}, "
                    f"worker {(worker_cpu_after - worker_cpu) / seconds:.2f}, locust {load.locust_cpu_s / seconds:.2f}"
                )
            print(
                f"  training: {epochs_after - epochs_before} epochs during the load, "
                f"{(epochs_after - epochs_before) / load.seconds:.2f}/s against "
                f"{(epochs_before - epochs_start) / single.seconds:.2f}/s during the 1-client baseline "
                f"(still running after the load: {still_training}; after the health baseline: {training_at_end})"
            )
            counted = {name: server_after.get(r, 0) - server_before.get(r, 0) for name, r in SERVER_ROUTES.items()}
            print(
                "  the server's /metrics during the load: "
                + ", ".join(f"{SERVER_ROUTES[n]} {counted[n]:.0f} (locust {load.rows[n].requests})" for n in ENDPOINTS)
                + f"\n    (the server also answers the up to {args.users} requests in flight when locust stops, "
                "which locust does not count; the pages' in-process API calls count on the API routes too)"
            )
            client.post(f"/api/v1/pilots/{pilot_id}/cancel")
    load_end, _, _ = os.getloadavg()
    print(f"# load average after the benchmark: {load_end:.2f} (1 min)")
    _print_goals(single, load)


def _print_goals(single: Phase, load: Phase) -> None:
    """Issue 13 §2's goals, a PASS or FAIL line each (same run: the ratio is to this run's single client)."""
    overall, one = load.rows["Aggregated"], single.rows["Aggregated"]
    ratio = overall.rps / one.rps if one.rps > 0 else 0.0
    page, summary = load.rows[PILOT_PAGE].p95, load.rows[SUMMARY].p95
    goals = [
        (ratio >= GOAL_RATIO, f"throughput {ratio:.2f}x a single client's (goal >= {GOAL_RATIO}x)"),
        (page <= GOAL_P95_MS, f"p95 pilot page {page:.0f} ms (goal <= {GOAL_P95_MS:.0f} ms)"),
        (summary <= GOAL_P95_MS, f"p95 summary {summary:.0f} ms (goal <= {GOAL_P95_MS:.0f} ms)"),
        (overall.failures == 0, f"errors {overall.failures} of {overall.requests} (goal 0)"),
    ]
    print("\n## goals (issue 13 §2)")
    for passed, text in goals:
        print(f"  {'PASS' if passed else 'FAIL'}  {text}")


if __name__ == "__main__":
    main()
