"""``GET /metrics``: Prometheus text from the real app on a real store (SQLite and PostgreSQL per test).

Scrapes are parsed with prometheus_client's own parser, so the tests also check that the output is valid
Prometheus text. Every request goes through ``api.client`` (signed in as an admin, so ``/metrics``'s
permission is granted); pilots are written through the store.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient
from prometheus_client import generate_latest

from backend import observability
from backend.store import ArmInput, RunInput, RunStatus, Store
from tests.support.api import API, finish, open_api, start
from tests.support.metrics import Samples, parse, scrape

PILOT_ROUTE = f"{API}/pilots/{{pilot_id}}"


def add_pilot(store: Store, *, seeds: int) -> int:
    """A pilot of two arms with its runs queued, written as the API's submission writes it."""
    arms = ["none", "rblock_s"]
    pilot = store.create_pilot(
        name="metrics", description="", dataset="digits", dataset_params={}, model="small_cnn", width=None,
        training={"epochs": 2}, seeds=list(range(seeds)), baseline_arm="none", roi={}, budget_cap=None,
        queue="cpu", created_by=None, arms=[ArmInput(arm, arm) for arm in arms],
        runs=[RunInput(arm, seed, {}, 2) for arm in arms for seed in range(seeds)],
    )  # fmt: skip
    return pilot.id


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def labelled(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (sample, labels), v in samples.items() if sample == name}


def test_requests_are_counted_by_method_route_template_and_status(database_url: str) -> None:
    with open_api(database_url) as api:
        pilot_id = add_pilot(api.store, seeds=1)
        # Each request with the template it must be counted under, and the status the admin gets.
        requests = [
            *[(f"{API}/pilots/{pilot_id}", PILOT_ROUTE, 200)] * 3,
            (f"{API}/pilots/987654", PILOT_ROUTE, 404),
            (f"{API}/pilots/not-a-number", PILOT_ROUTE, 422),
            (f"{API}/pilots/{pilot_id}/summary", f"{PILOT_ROUTE}/summary", 200),
            ("/no/such/page/12345", "unmatched", 404),
            (f"{API}/health", f"{API}/health", 200),
        ]
        expected: Counter[tuple[str, str]] = Counter()
        for url, route, status in requests:
            assert api.client.get(url).status_code == status, url
            expected[route, str(status)] += 1

        samples = scrape(api.client)
        total = "rblock_pilot_http_requests_total"
        counted = {
            (dict(labels)["route"], dict(labels)["status"]): n
            for labels, n in labelled(samples, total).items()
            if dict(labels)["method"] == "GET"
        }
        assert counted == expected
        # Templates only: no raw path (no id, no unknown path) ever becomes a label.
        assert all("987654" not in route and "12345" not in route for route, _ in counted)

        # The histogram has the same labels and counts, and cumulative buckets that end at the count.
        duration = "rblock_pilot_http_request_duration_seconds"
        for labels, count in labelled(samples, total).items():
            assert samples[(f"{duration}_count", labels)] == count
            assert samples[(f"{duration}_sum", labels)] > 0
            buckets = sorted(
                (float(dict(bucket)["le"]), n)
                for bucket, n in labelled(samples, f"{duration}_bucket").items()
                if {item for item in bucket if item[0] != "le"} == labels
            )
            assert [n for _, n in buckets] == sorted(n for _, n in buckets)
            assert buckets[-1] == (float("inf"), count)

        # A scrape is counted once it has been answered, and /metrics is not under /api/v1.
        assert value(scrape(api.client), total, method="GET", route="/metrics", status="200") == 1
        assert api.client.get(f"{API}/metrics").status_code == 404
        assert value(scrape(api.client), total, method="GET", route="unmatched", status="404") == 2


def test_gauges_report_runs_by_status_workers_and_queue_depths(database_url: str) -> None:
    with open_api(database_url) as api:
        pilot_id = add_pilot(api.store, seeds=2)  # two arms x two seeds: four queued runs
        other_id = add_pilot(api.store, seeds=1)  # two more
        runs = [run.id for run in api.store.list_runs(pilot_id=pilot_id)]
        finish(api.store, runs[0])
        finish(api.store, runs[1], RunStatus.FAILED)
        start(api.store, runs[2])
        api.store.request_cancel(run_id=runs[2])  # running -> cancelling
        cancelled = api.store.list_runs(pilot_id=other_id)[0].id
        api.store.request_cancel(run_id=cancelled)  # queued -> cancelled
        for name in ("cpu-1@a", "cpu-2@b"):
            api.store.worker_seen(name=name, host="h", device="cpu", queues=["cpu"], current_run_id=None)
        api.queue.queue_depths = {"gpu": 3, "cpu": None}  # the broker could not say for cpu

        samples = scrape(api.client)
        by_status = {dict(labels)["status"]: v for labels, v in labelled(samples, "rblock_pilot_runs").items()}
        expected = {"queued": 2, "running": 0, "cancelling": 1, "succeeded": 1, "failed": 1, "cancelled": 1}
        assert by_status == expected
        store_counts = api.store.count_runs_by_status()
        assert by_status == {status.value: store_counts.get(status.value, 0) for status in RunStatus}
        assert value(samples, "rblock_pilot_workers_online") == 2
        assert value(samples, "rblock_pilot_store_up") == 1
        assert labelled(samples, "rblock_pilot_queue_depth") == {frozenset({("queue", "gpu")}): 3}

        # Gauges are read at each scrape: they follow the store.
        finish(api.store, runs[3])
        samples = scrape(api.client)
        assert value(samples, "rblock_pilot_runs", status="queued") == 1
        assert value(samples, "rblock_pilot_runs", status="succeeded") == 2


def test_each_app_has_its_own_registry(sqlite_url: str, tmp_path: Path) -> None:
    with open_api(sqlite_url) as first, open_api(f"sqlite:///{tmp_path}/second.db") as second:
        for _ in range(2):
            first.client.get(f"{API}/health")
        second.client.get(f"{API}/health")
        health = {"method": "GET", "route": f"{API}/health", "status": "200"}
        assert value(scrape(first.client), "rblock_pilot_http_requests_total", **health) == 2
        assert value(scrape(second.client), "rblock_pilot_http_requests_total", **health) == 1


def test_a_lost_database_is_store_up_0_and_the_collection_still_succeeds(sqlite_url: str) -> None:
    with open_api(sqlite_url) as api:
        api.client.get(f"{API}/health")
        api.store.engine.dispose()
        Path(sqlite_url.removeprefix("sqlite:///")).unlink()  # the next connection finds no tables

        # Read the app's registry directly: over HTTP the permission check, which needs the database too,
        # answers 503 before /metrics runs.
        registry = api.client.app.state.metrics_registry  # type: ignore[attr-defined]
        samples = parse(generate_latest(registry).decode())
        assert value(samples, "rblock_pilot_store_up") == 0
        assert not labelled(samples, "rblock_pilot_runs")
        assert value(samples, "rblock_pilot_queue_depth", queue="gpu") == 0
        health = {"method": "GET", "route": f"{API}/health", "status": "200"}
        assert value(samples, "rblock_pilot_http_requests_total", **health) == 1


def test_templates_of_included_routers_converters_and_mounts(tmp_path: Path) -> None:
    """Labels for the shapes of route the pages add: a prefixed router, ``{id:int}`` paths, a static mount."""
    api = APIRouter(prefix="/things")

    @api.get("/{thing_id}")
    def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    pages = APIRouter()

    @pages.get("/pages/{page_id:int}")
    def page(page_id: int) -> dict[str, int]:
        return {"id": page_id}

    app = FastAPI()
    app.include_router(api, prefix="/api/v9")
    registry = observability.install(app)
    app.include_router(pages)  # routes added after install() are labelled too
    (tmp_path / "a.css").write_text("body {}")
    app.mount("/static", StaticFiles(directory=tmp_path), name="static")
    with TestClient(app) as client:
        for url in ("/api/v9/things/1", "/api/v9/things/2", "/pages/7", "/static/a.css", "/static/nope.css", "/x"):
            client.get(url)
        client.request("BREW", "/x")  # a method of the client's invention is not a new label value
    samples = parse(generate_latest(registry).decode())
    counted: Counter[tuple[str, str]] = Counter()
    for labels, n in labelled(samples, "rblock_pilot_http_requests_total").items():
        counted[dict(labels)["route"], dict(labels)["status"]] += int(n)
    assert counted == {
        ("/api/v9/things/{thing_id}", "200"): 2,
        ("/pages/{page_id}", "200"): 1,
        ("/static/{path}", "200"): 1,
        ("/static/{path}", "404"): 1,
        ("unmatched", "404"): 2,
    }
    methods = {dict(labels)["method"] for labels in labelled(samples, "rblock_pilot_http_requests_total")}
    assert methods == {"GET", "other"}
