"""A worker trains at a lower CPU priority than the API (``WORKER_NICE``, worker/priority.py).

The niceness is per thread on Linux, so the checks read every thread's (``/proc/<pid>/task``): the threads
alive when the worker lowers it, and the ones started afterwards. Each check runs in a process of its own,
since a niceness, once raised, cannot be lowered again without privileges (and the test process keeps its own).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from backend.store import Store
from tests.support.processes import Processes, embedded_worker_env, wait_for, worker_command

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="per-thread niceness is read from /proc")

ROOT = Path(__file__).resolve().parents[2]


def thread_niceness(pid: int) -> dict[int, int]:
    """Each thread of ``pid``: its niceness (field 19 of /proc/PID/task/TID/stat)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found[int(task.name)] = int((task / "stat").read_text().rsplit(")", 1)[1].split()[16])
        except (OSError, IndexError):
            continue  # a thread that ended while we read
    return found


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_every_thread_is_lowered_and_new_threads_inherit_it() -> None:
    out = run_python(
        """
        import os, threading
        from worker.priority import lower_cpu_priority
        from tests.worker.test_priority import thread_niceness

        hold = threading.Event()
        before = threading.Thread(target=hold.wait)
        before.start()
        print(lower_cpu_priority(7))
        after = threading.Thread(target=hold.wait)
        after.start()
        print(sorted(set(thread_niceness(os.getpid()).values())), len(thread_niceness(os.getpid())))
        hold.set()
        """
    )
    assert out.splitlines() == ["7", "[7] 3"]


def test_a_higher_niceness_is_kept_and_zero_changes_nothing() -> None:
    out = run_python(
        """
        import os
        from worker.priority import lower_cpu_priority

        print(lower_cpu_priority(0))
        os.setpriority(os.PRIO_PROCESS, 0, 15)
        print(lower_cpu_priority(10))
        """
    )
    assert out.splitlines() == ["0", "15"]


@pytest.mark.e2e
@pytest.mark.xdist_group("e2e")
def test_the_worker_up_starts_trains_at_worker_nice(tmp_path: Path) -> None:
    """``pilot_cli.service.worker_command`` (what ``up``, ``rblock-pilot worker`` and bench/load.py start): every
    thread of the running worker at the setting's niceness, once it has reported itself."""
    env = embedded_worker_env(tmp_path, WORKER_NICE="6")
    store = Store(env["DATABASE_URL"])
    store.upgrade()
    processes = Processes(tmp_path)
    try:
        worker = processes.start("worker", worker_command("nice-test"), env)

        def reported() -> bool:
            assert worker.alive(), worker.text()[-3000:]
            return bool(store.list_workers(seen_within_s=60))

        wait_for("the worker to report itself", reported, timeout_s=120, every_s=0.25)
        niceness = thread_niceness(worker.process.pid)
        assert set(niceness.values()) == {6}, (niceness, worker.text()[-2000:])
    finally:
        processes.stop_all()
        store.dispose()
