"""Benchmark: CPU time per request of the load mix (bench/load.py's four requests), in-process, one client.

Not a test. The app (``pilot_cli.webapp.create_app``: API + pages) on a fresh SQLite file, called through
``httpx.ASGITransport`` (no server, no network) by one client with an engineer's API token; a pilot like
bench/load.py's (digits, small_cnn, two arms) whose first run has 100 epochs of 12 metrics. Each request is
timed in process CPU time (``time.process_time``: the client's share is in it too, but it resists the other
load of a shared machine far better than wall time), ``--requests`` of each after a warm-up, in rounds
through the four; printed as the median and the mean per request. Then the same with the worker's writes
of one epoch (points, heartbeat) every ``--epoch-every`` seconds of CPU time, so that the cached pages and
summaries miss as they do while a pilot trains.

Run: ``PYTHONPATH=$PWD .venv/bin/python bench/page_cpu.py`` (before/after: the same script in two trees).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable

import httpx
from serving import NoQueue

from backend.settings import Settings
from backend.store import ArmInput, RunInput, Store
from pilot_cli.webapp import create_app

KEYS = [
    "train_loss", "train_acc", "test_loss", "test_acc", "lr", "drop_rate", "epoch_seconds",
    "samples_per_second", "consistency_kl", "ece", "nll", "inconsistency_kl",
]  # fmt: skip
EPOCHS = 100


def _pilot(store: Store) -> tuple[int, int]:
    pilot = store.create_pilot(
        name="bench/page_cpu.py", description="", dataset="digits", dataset_params={}, model="small_cnn",
        width=16, training={"epochs": 1000}, seeds=[0], baseline_arm="none", roi={}, budget_cap=None,
        queue="cpu", created_by="bench", arms=[ArmInput("none", "none"), ArmInput("rblock_s", "rblock_s")],
        runs=[RunInput(arm, 0, {}, 1000) for arm in ("none", "rblock_s")],
    )  # fmt: skip
    run = store.list_runs(pilot_id=pilot.id)[0]
    store.claim_run(run_id=run.id, worker_host="bench", device="cpu", stale_after_s=600.0)
    points = [(key, e, 0.5 + e / 1000 + k / 100) for e in range(1, EPOCHS + 1) for k, key in enumerate(KEYS)]
    store.write_points(run_id=run.id, points=points)
    return pilot.id, run.id


async def _measure(
    client: httpx.AsyncClient, paths: list[str], requests: int, epoch: Callable[[], None] | None, every_s: float
) -> dict[str, list[float]]:
    """CPU ms of each request, ``requests`` rounds through ``paths``; ``epoch()`` every ``every_s`` CPU seconds."""
    spent: dict[str, list[float]] = {path: [] for path in paths}
    for path in paths:
        (await client.get(path)).raise_for_status()  # warm-up
    next_epoch = time.process_time() + every_s
    for _ in range(requests):
        for path in paths:
            if epoch is not None and time.process_time() >= next_epoch:
                epoch()  # not timed: the worker's share
                next_epoch = time.process_time() + every_s
            start = time.process_time()
            response = await client.get(path)
            spent[path].append(1000 * (time.process_time() - start))
            response.raise_for_status()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=200, help="requests of each path (default 200)")
    parser.add_argument("--epoch-every", type=float, default=0.25, help="CPU seconds between epochs (0.25)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{tmp}/pilot.db", broker_url=f"sqla+sqlite:///{tmp}/broker.db")
        store = Store(settings.database_url)
        store.upgrade()
        from backend.auth.accounts import create_user, issue_token

        create_user(store, name="bench", role="engineer", password="bench-password-0123456789")
        _, token = issue_token(store, user_name="bench", label="bench/page_cpu.py")
        pilot_id, run_id = _pilot(store)
        paths = ["/", f"/pilots/{pilot_id}", f"/api/v1/pilots/{pilot_id}/summary"]
        paths.append(f"/api/v1/pilots/{pilot_id}/metrics?format=columns&keys=test_acc")
        epoch_count = [EPOCHS]

        def one_epoch() -> None:
            epoch_count[0] += 1
            store.write_points(run_id=run_id, points=[(key, epoch_count[0], 0.6) for key in KEYS])
            store.heartbeat(run_id=run_id, epochs_done=epoch_count[0])

        app = create_app(settings, store=store, queue=NoQueue())

        async def run() -> None:
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
                for label, epoch in (("pilot unchanged", None), (f"an epoch every {args.epoch_every} s", one_epoch)):
                    spent = await _measure(client, paths, args.requests, epoch, args.epoch_every)
                    print(f"\n## CPU ms per request, {label} ({args.requests} each)")
                    everything = [sample for samples in spent.values() for sample in samples]
                    for name, samples in (*spent.items(), ("the mix", everything)):
                        median, mean = statistics.median(samples), statistics.mean(samples)
                        print(f"  {name:62s} median {median:5.2f}   mean {mean:5.2f}")

        asyncio.run(run())
        store.dispose()


if __name__ == "__main__":
    main()
