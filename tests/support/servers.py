"""Private Redis and PostgreSQL servers for the fault tests, on free ports in temporary directories.

The fault tests kill and restart their servers. The shared servers (PostgreSQL on 127.0.0.1:5432, Redis
on :6379) serve other tests running at the same time, so these tests never touch them: each server here
is a process of its own, with its data in a temporary directory, restarted on the same port and data
(stopped, then started again).

- Redis: ``redis-server`` with persistence off (``--save '' --appendonly no``), so a restart loses every
  message the broker held, the worst case for the queue (production turns the append-only file on).
- PostgreSQL: ``initdb`` and ``pg_ctl`` from ``PG_BIN`` (default: Debian's PostgreSQL 15). PostgreSQL
  refuses to run as root, so as root they run as the ``postgres`` user through ``runuser``, in a
  directory that user owns; its socket directory (``-k``) is in there too.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import free_port, wait_for

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"


def redis_missing() -> str | None:
    """Why a private Redis cannot run here, or None."""
    return None if shutil.which("redis-server") else "redis-server is not installed (apt-get install redis-server)"


def postgres_missing() -> str | None:
    """Why a private PostgreSQL cannot run here, or None."""
    for tool in ("initdb", "pg_ctl"):
        if not (PG_BIN / tool).is_file():
            return f"{PG_BIN / tool} is missing (set PG_BIN to PostgreSQL's bin directory)"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root needs runuser (util-linux) to start PostgreSQL as another user"
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            return f"running as root needs a {PG_USER!r} user to start PostgreSQL (it refuses root)"
    return None


@dataclass
class RedisServer:
    """``redis-server`` on a free port, with no persistence: :meth:`restart` empties it."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        log = (self.directory / "redis.log").open("ab")
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self.directory),
        ]  # fmt: skip
        with log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_for(f"redis-server on port {self.port}", self._answers, timeout_s=20, every_s=0.05)

    def _answers(self) -> bool:
        import redis

        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"redis-server exited: {(self.directory / 'redis.log').read_text()[-2000:]}")
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.exceptions.ConnectionError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: the server dies at once, with everything it held."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        """Kill the server and start it again on the same port: an empty broker, clients cut off."""
        self.kill()
        self.start()
        self.restarts += 1

    def flush(self) -> None:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port)
        try:
            client.flushall()
        finally:
            client.close()


@dataclass
class PostgresServer:
    """A PostgreSQL cluster of its own (``initdb``) on a free port, driven by ``pg_ctl``."""

    directory: Path
    port: int = field(default_factory=free_port)

    @classmethod
    def create(cls) -> PostgresServer:
        """A new cluster in a new temporary directory owned by the user PostgreSQL runs as."""
        directory = Path(tempfile.mkdtemp(prefix="rblock-faults-pg-"))
        (directory / "sockets").mkdir()
        if os.geteuid() == 0:
            user = pwd.getpwnam(PG_USER)
            for path in (directory, directory / "sockets"):
                os.chown(path, user.pw_uid, user.pw_gid)
        server = cls(directory=directory)
        server._run("initdb", "-D", str(server.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        return server

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str, timeout_s: float = 60) -> None:
        as_user = ["runuser", "-u", PG_USER, "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*as_user, str(PG_BIN / tool), *args], capture_output=True, text=True, timeout=timeout_s, check=False
        )
        if done.returncode != 0:
            server_log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise AssertionError(f"{tool} {' '.join(args)} failed:\n{done.stdout}{done.stderr}\n{server_log}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory / 'sockets'} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=50"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast``: roll back open transactions and cut every client off, then shut down cleanly."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def destroy(self) -> None:
        """Stop at once (if running) and delete the cluster's directory."""
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop(mode="immediate")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
