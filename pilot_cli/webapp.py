"""The web app that ``rblock-pilot up``/``api`` serve: the JSON API (``backend.app``) plus the pages (``frontend``).

Composed here because ``pilot_cli`` is the composition root: the backend does not import the frontend, and
the frontend never imports ``backend.app`` (it would reach ``backend.store``, which import-linter forbids).
``uvicorn pilot_cli.webapp:create_app --factory``; ``backend.app:create_app`` still serves the API alone.
"""

from __future__ import annotations

from fastapi import FastAPI

from backend.app import create_app as create_api
from backend.dispatch import RunQueue
from backend.settings import Settings
from backend.store import Store
from frontend.pages import install_pages


def create_app(
    settings: Settings | None = None, *, store: Store | None = None, queue: RunQueue | None = None
) -> FastAPI:
    return install_pages(create_api(settings, store=store, queue=queue))
