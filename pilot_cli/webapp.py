"""The web app that ``rblock-pilot up``/``api`` serve: the JSON API (``backend.app``) plus the pages (``frontend``).

Composed here because ``pilot_cli`` is the composition root: the backend does not import the frontend, and
the frontend never imports ``backend.app`` (it would reach ``backend.store``, which import-linter forbids).
``uvicorn pilot_cli.webapp:serve_app --factory``; ``backend.app:create_app`` still serves the API alone.
"""

from __future__ import annotations

import gc

from fastapi import FastAPI

from backend.app import create_app as create_api
from backend.dispatch import RunQueue
from backend.settings import Settings
from backend.store import Store
from frontend.site import install_pages


def create_app(
    settings: Settings | None = None, *, store: Store | None = None, queue: RunQueue | None = None
) -> FastAPI:
    return install_pages(create_api(settings, store=store, queue=queue))


def freeze_startup_objects() -> None:
    """Move everything alive now (modules, the app) out of the garbage collector's way.

    These objects live as long as the server process, yet every full collection walked all ~200,000 of
    them: 80 ms on an idle core, up to 500 ms on a busy one, landing on whichever request was running
    (measured with bench/pages.py). Frozen, a full collection scans only what requests made since. Only
    for a process that serves one app for its life: tests build many apps in one process and must not.
    """
    gc.collect()
    gc.freeze()


def serve_app() -> FastAPI:
    """The factory ``rblock-pilot up`` and ``api`` give uvicorn: the app from the environment's settings."""
    app = create_app()
    freeze_startup_objects()
    return app
