"""The simulated clients of ``bench/load.py`` (locust, headless); not meant to be run by hand.

``bench/load.py`` starts locust with one of these user classes and passes, through the environment, the
pilot to look at (``LOAD_PILOT_ID``) and the headers every request sends (``LOAD_HEADERS``, JSON: what
``load._auth_headers`` returned). No think time: each client sends its next request as soon as the last
one is answered, so 50 clients keep 50 requests in flight (a closed loop at saturation).

FastHttpUser (geventhttpclient) rather than HttpUser (requests): it costs several times less CPU per
request, and the load generator shares this 2-core machine with the API and the training worker.
"""

from __future__ import annotations

import json
import os

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

PILOT_ID = int(os.environ.get("LOAD_PILOT_ID", "0"))
HEADERS: dict[str, str] = json.loads(os.environ.get("LOAD_HEADERS", "{}"))

# Locust's name for each endpoint: the route, not the URL, so every pilot id lands in one row.
PILOTS_PAGE = "GET / (pilots page)"
PILOT_PAGE = "GET /pilots/{id} (pilot page)"
SUMMARY = "GET /api/v1/pilots/{id}/summary"
METRICS = "GET /api/v1/pilots/{id}/metrics?format=columns&keys=test_acc"
HEALTH = "GET /api/v1/health"


class PilotViewer(FastHttpUser):
    """Someone watching a training pilot: the four requests in equal shares, in random order."""

    wait_time = constant(0)

    @task
    def pilots_page(self) -> None:
        self.client.get("/", headers=HEADERS, name=PILOTS_PAGE)

    @task
    def pilot_page(self) -> None:
        self.client.get(f"/pilots/{PILOT_ID}", headers=HEADERS, name=PILOT_PAGE)

    @task
    def summary(self) -> None:
        self.client.get(f"/api/v1/pilots/{PILOT_ID}/summary", headers=HEADERS, name=SUMMARY)

    @task
    def metrics(self) -> None:
        self.client.get(
            f"/api/v1/pilots/{PILOT_ID}/metrics?format=columns&keys=test_acc", headers=HEADERS, name=METRICS
        )


class HealthChecker(FastHttpUser):
    """The baseline: the same closed loop on the cheapest route (one ``SELECT 1`` and a workers query)."""

    wait_time = constant(0)

    @task
    def health(self) -> None:
        self.client.get("/api/v1/health", headers=HEADERS, name=HEALTH)
