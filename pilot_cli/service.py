"""``rblock-pilot up | api | worker``: run the service on one machine, or each part alone in production.

``up`` is docs/design.md §6's "one command, no servers installed": it puts the database, the broker, the
artifacts and the datasets (``DATA_ROOT``, uploads included) under ``--data-dir`` (SQLite, kombu's
SQLAlchemy transport on a second SQLite file, two folders) unless the environment names others, migrates
the schema, starts the API (uvicorn) and one worker (Celery, solo pool) as child processes, waits until
the API answers its health check and the worker has reported itself, prints the URL, and stops both
cleanly on Ctrl-C or SIGTERM.

``api`` and ``worker`` replace this process with uvicorn or a Celery worker (exec), configured from the
environment, for process managers and containers.

Every failure a user can cause (a wrong ``DATABASE_URL``, a server that is down, a port in use) ends with
one line on stderr that starts with ``rblock-pilot:`` and exit code 2; no traceback.
"""

from __future__ import annotations

import argparse
import glob
import os
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

from pilot_cli import supervisor
from pilot_spec.device import DEVICE_GRAMMAR, parse_device

if TYPE_CHECKING:
    from backend.settings import Settings
    from backend.store import Store

EXIT_USAGE = 2
HEALTH_PATH = "/api/v1/health"
# Importing torch alone takes seconds on a small machine; the worker's first start can take a while.
READY_TIMEOUT_S = 180.0
T = TypeVar("T")


class ServiceError(Exception):
    """A problem the user can fix; its message is printed as one line."""


# -- the commands --------------------------------------------------------------------------------------


def main(command: str, argv: Sequence[str]) -> int:
    """Run ``rblock-pilot COMMAND argv...`` for COMMAND in up, api, worker; returns the exit code."""
    handlers = {"up": _up, "api": _api, "worker": _worker}
    if command not in handlers:
        print(f"rblock-pilot: unknown service command {command!r}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return handlers[command](list(argv))
    except ServiceError as error:
        print(f"rblock-pilot: {error}", file=sys.stderr)
        return EXIT_USAGE


def _up_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rblock-pilot up",
        description=(
            "Start the whole service on this machine: migrations, the API and one worker. With no DATABASE_URL, "
            "BROKER_URL, ARTIFACT_DIR or DATA_ROOT in the environment, everything lives under --data-dir (SQLite "
            "database, SQLite broker, artifacts, datasets and uploads). Ctrl-C or SIGTERM stops both processes."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address the API listens on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port of the API (default 8000)")
    parser.add_argument("--data-dir", default="./var", help="where the embedded defaults keep their files (./var)")
    parser.add_argument("--queues", default="auto", help="queues of the worker: auto (cpu, plus gpu with a GPU)")
    parser.add_argument(
        "--workers",
        type=_worker_count,
        default=default_api_workers(),
        help=f"API processes (uvicorn workers; default min({MAX_DEFAULT_API_WORKERS}, cores) = %(default)s)",
    )
    return parser


def _up(argv: list[str]) -> int:
    args = _up_parser().parse_args(argv)
    data_dir = Path(args.data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    # The launcher's own environment is what the children inherit, so the defaults go there.
    os.environ.update(embedded_defaults(os.environ, data_dir))
    env = dict(os.environ)
    settings = _settings()
    _check_port(args.host, args.port)
    _migrate(settings.database_url)
    first_password = _first_admin(settings.database_url)
    _artifact_store(settings, worker=False)
    _check_broker(settings.broker_url)

    gpu = gpu_present(env)
    queues = ("cpu,gpu" if gpu else "cpu") if args.queues == "auto" else args.queues
    worker_name = f"up-{os.getpid()}@{socket.gethostname()}"
    stop_request = supervisor.StopRequest()
    stop_request.install()
    children = [
        supervisor.start("API", api_command(args.host, args.port, settings.trusted_proxies, args.workers), env),
        supervisor.start("worker", worker_command(queues=queues, name=worker_name, events=False), env),
    ]
    try:
        base = f"http://{_client_host(args.host)}:{args.port}"
        healthy, died = supervisor.wait_until_healthy(base + HEALTH_PATH, children, stop_request, READY_TIMEOUT_S)
        if healthy:
            healthy, died = _wait_for_worker(settings.database_url, worker_name, children, stop_request)
        if died is not None:
            return _child_died(died, children)
        if stop_request.requested:
            return 0
        if not healthy:
            print(
                f"rblock-pilot: the API and the worker were not both ready within {READY_TIMEOUT_S:.0f} s",
                file=sys.stderr,
            )
            return 1
        print(f"R-Block Pilot is running at {base}", flush=True)
        print(
            f"  data: {settings.database_url}   artifacts: {settings.artifact_dir}   datasets: {settings.data_root}",
            flush=True,
        )
        if first_password:
            _print_first_admin(first_password)
        print("  Press Ctrl-C to stop.", flush=True)
        died = supervisor.watch(children, stop_request)
        if died is not None:
            return _child_died(died, children)
        print("rblock-pilot: stopping the API and the worker", flush=True)
        return 0
    finally:
        supervisor.stop(children)
        stop_request.restore()


def _api_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rblock-pilot api",
        description="Start the API alone (uvicorn), configured from the environment (DATABASE_URL, BROKER_URL, ...). "
        "Migrates the schema first.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (0.0.0.0 in a container)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--no-migrate", action="store_true", help="do not upgrade the schema before starting")
    parser.add_argument(
        "--workers", type=_worker_count, default=1, help="API processes (uvicorn workers, default 1); one reconciles"
    )
    return parser


def _api(argv: list[str]) -> int:
    args = _api_parser().parse_args(argv)
    settings = _settings()
    if args.no_migrate:
        _ping(settings.database_url)
    else:
        _migrate(settings.database_url)
        if first_password := _first_admin(settings.database_url):
            _print_first_admin(first_password)
    _artifact_store(settings, worker=False)
    _exec(api_command(args.host, args.port, settings.trusted_proxies, args.workers), os.environ)


def _worker_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rblock-pilot worker",
        description="Start one worker process (Celery, one run at a time), configured from the environment. "
        "Start one per GPU: --device cuda:0, --device cuda:1, ...",
    )
    parser.add_argument(
        "--queues", default="auto", help="comma-separated queues: cpu, gpu (default auto: gpu with a GPU, else cpu)"
    )
    parser.add_argument("--device", default="auto", help=f"{DEVICE_GRAMMAR}: the one device this worker uses")
    parser.add_argument("--name", default=None, help="the worker's node name (default KIND-PID@HOST)")
    parser.add_argument("--loglevel", default="INFO", help="Celery log level (default INFO)")
    parser.add_argument("--events", action="store_true", help="send task events (for flower)")
    return parser


def _worker(argv: list[str]) -> int:
    args = _worker_parser().parse_args(argv)
    device = args.device.strip()
    try:
        parse_device(device, "--device")
    except ValueError as error:
        raise ServiceError(str(error)) from None
    os.environ["WORKER_DEVICE"] = device  # read by worker.binding in the Celery process
    env = dict(os.environ)
    settings = _settings()
    _ping(settings.database_url)
    _artifact_store(settings, worker=True)
    _check_broker(settings.broker_url)
    queues = args.queues
    if queues == "auto":
        queues = "cpu" if device == "cpu" or (device == "auto" and not gpu_present(env)) else "gpu"
    unknown = sorted(set(queues.split(",")) - {"cpu", "gpu"})
    if unknown:
        raise ServiceError(f"--queues takes cpu and/or gpu, comma-separated (got {args.queues!r})")
    tag = device.replace(":", "") if device.startswith("cuda") else queues.replace(",", "-")
    name = args.name or f"{tag}-{os.getpid()}@{socket.gethostname()}"
    _exec(worker_command(queues=queues, name=name, events=args.events, loglevel=args.loglevel), env)


# -- pieces --------------------------------------------------------------------------------------------


def embedded_defaults(environ: Mapping[str, str], data_dir: Path) -> dict[str, str]:
    """The embedded defaults under ``data_dir`` for the settings that ``environ`` does not set."""
    defaults = {
        "DATABASE_URL": f"sqlite:///{data_dir / 'pilot.db'}",
        "BROKER_URL": f"sqla+sqlite:///{data_dir / 'broker.db'}",
        "ARTIFACT_DIR": str(data_dir / "artifacts"),
        # Datasets and uploads (<DATA_ROOT>/uploads); the Settings default, var/data, is relative to the
        # current folder, so without this `up --data-dir D` put them outside D.
        "DATA_ROOT": str(data_dir / "data"),
        "PYTHONUNBUFFERED": "1",  # the children's logs appear as they happen
    }
    return {name: value for name, value in defaults.items() if not environ.get(name)}


def gpu_present(environ: Mapping[str, str]) -> bool:
    """Whether an NVIDIA GPU is visible, without importing torch (seconds) just to choose a queue."""
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1", "none", "NoDevFiles"):
        return False
    return bool(glob.glob("/dev/nvidia[0-9]*"))


# `up` starts this many API processes at most by default: beyond it the database, not the API, is the limit.
MAX_DEFAULT_API_WORKERS = 4


def default_api_workers() -> int:
    """`up`'s API processes: one per core, at most ``MAX_DEFAULT_API_WORKERS``."""
    return max(1, min(MAX_DEFAULT_API_WORKERS, os.cpu_count() or 1))


def _worker_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError(f"--workers wants a whole number from 1 to 64, not {text!r}")
    return count


def api_command(host: str, port: int, trusted_proxies: str, workers: int = 1) -> list[str]:
    """uvicorn's command line. ``X-Forwarded-For``/``-Proto`` are believed only from ``TRUSTED_PROXIES``:
    uvicorn's own default trusts them from 127.0.0.1, so anyone on the machine (or a proxy passing the
    header through) could pick the address the sign-in throttle counts, and rotate it for unlimited guesses.
    With ``workers`` > 1 uvicorn runs that many processes on the port; they share nothing but the database
    (the summary cache is keyed by the pilots' versions there, and one process holds the reconciler's lease).
    """
    proxies = [p.strip() for p in trusted_proxies.split(",") if p.strip()]
    proxy_args = ["--proxy-headers", "--forwarded-allow-ips", ",".join(proxies)] if proxies else ["--no-proxy-headers"]
    return [
        sys.executable,
        "-m",
        "pilot_cli.uvicorn_main",  # uvicorn's command line, with TCP_NODELAY under --workers too (see there)
        "pilot_cli.webapp:serve_app",
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        *(["--workers", str(workers)] if workers > 1 else []),
        *proxy_args,
    ]


def worker_command(*, queues: str, name: str, events: bool, loglevel: str = "INFO") -> list[str]:
    """The Celery worker's command line, as `up` and `worker` start it (the end-to-end tests start the same)."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker.celery_app",
        "worker",
        "--pool",
        "solo",  # one run at a time in this process: one process per device
        "--concurrency",
        "1",
        "--prefetch-multiplier",
        "1",
        "-Q",
        queues,
        "-n",
        name,
        "--loglevel",
        loglevel,
        # Cancellation and liveness go through the database; gossip and mingle only slow the start.
        "--without-gossip",
        "--without-mingle",
    ]
    if events:
        command.append("-E")
    return command


def _settings() -> Settings:
    """Read the settings as the children will (from this process's environment); a bad value is one line."""
    from pydantic import ValidationError

    from backend.settings import get_settings

    try:
        return get_settings()
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]).upper()
        raise ServiceError(f"invalid setting {field}: {first['msg']}") from None


def _with_store(database_url: str, action: Callable[[Store], T]) -> T:
    """``action`` on a store opened for it alone; an unreachable database is a ``ServiceError`` with its one line."""
    from backend.store import Store, StoreUnavailable

    try:
        store = Store(database_url)
        try:
            return action(store)
        finally:
            store.dispose()
    except StoreUnavailable as error:
        raise ServiceError(str(error)) from None


def _migrate(database_url: str) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        _with_store(database_url, lambda store: store.upgrade())
    except SQLAlchemyError as error:
        raise ServiceError(f"cannot migrate the database at {_redact(database_url)}: {_first_line(error)}") from None


def _first_admin(database_url: str) -> str | None:
    """On a database with no users, create ``admin`` with a one-time password (returned, to print once)."""
    from backend.auth.accounts import ensure_first_admin

    return _with_store(database_url, ensure_first_admin)


def _print_first_admin(password: str) -> None:
    # Printed to the terminal once and never logged: the user must change it at the first sign-in.
    print(
        f"  first start: sign in as 'admin' with the one-time password {password}\n"
        "  (shown only now; you choose your own password at the first sign-in; add users on the Users page "
        "or with `rblock-pilot user add NAME --role engineer`)",
        flush=True,
    )


def _ping(database_url: str) -> None:
    _with_store(database_url, lambda store: store.ping())


def _artifact_store(settings: Settings, *, worker: bool) -> None:
    """The API marks ARTIFACT_DIR as the deployment's artifact store; a worker checks that it sees that mark."""
    from sqlalchemy.exc import SQLAlchemyError

    from backend.store import Store
    from pilot_cli.artifact_store import ArtifactStoreError, check_worker, write_marker

    store = Store(settings.database_url)
    try:
        if worker:
            check_worker(store, settings.artifact_dir, shared=settings.shared_artifacts)
        else:
            write_marker(store, settings.artifact_dir)
    except ArtifactStoreError as error:
        raise ServiceError(str(error)) from None
    except SQLAlchemyError as error:  # e.g. a schema older than this code: the API migrates it at its start
        raise ServiceError(
            f"cannot read the artifact store's id from the database ({_first_line(error)}): "
            "start the API first (rblock-pilot api)"
        ) from None
    finally:
        store.dispose()


def _check_broker(broker_url: str) -> None:
    """Fail fast with one line when the broker (Redis) cannot be reached; the SQLite broker needs no check."""
    if broker_url.startswith("sqla+"):
        return
    from kombu.connection import Connection

    try:
        with Connection(broker_url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
    except Exception as error:  # kombu and redis raise their own errors; any of them means "unreachable"
        raise ServiceError(f"cannot reach the broker at {_redact(broker_url)}: {_first_line(error)}") from None


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ServiceError(f"cannot listen on {host}:{port}: {error.strerror}; choose another --port") from None


def _wait_for_worker(
    database_url: str,
    name: str,
    children: Sequence[supervisor.Child],
    stop_request: supervisor.StopRequest,
) -> tuple[bool, supervisor.Child | None]:
    """Wait until the worker has reported itself in the store (it is then consuming).

    Returns (ready, the child that died if one did).
    """
    from backend.store import Store

    store = Store(database_url)
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while time.monotonic() < deadline and not stop_request.requested:
            for child in children:
                if child.exit_code is not None:
                    return False, child
            if any(worker.name == name for worker in store.list_workers(seen_within_s=60)):
                return True, None
            time.sleep(0.25)
    finally:
        store.dispose()
    return False, None


def _child_died(child: supervisor.Child, children: Sequence[supervisor.Child]) -> int:
    others = [other.name for other in children if other is not child and other.exit_code is None]
    rest = f"; stopping the {' and the '.join(others)}" if others else ""
    print(f"rblock-pilot: the {child.name} exited unexpectedly with code {child.exit_code}{rest}", file=sys.stderr)
    return 1


def _client_host(host: str) -> str:
    """Where a client on this machine reaches a server listening on ``host``."""
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def _exec(command: list[str], env: Mapping[str, str]) -> NoReturn:
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(command[0], command, dict(env))


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.partition(':')[0]}:***@{host}"


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__
