"""Every page router, listed in one place: ``PUBLIC`` (signing in) and ``SIGNED_IN`` (every page behind a sign-in).

Each resource's pages are their own module with their own router; every read and write goes through the
app's own JSON API in-process (``frontend.client``), so the pages never touch the store. Pages that the
browser polls return fragments (``_*.html``).
"""

from __future__ import annotations

from fastapi import APIRouter

from frontend import (
    account,
    compare_pages,
    decisions,
    extend,
    new_pilot_pages,
    pilot_changes,
    pilot_pages,
    run_pages,
    signin,
    worker_pages,
)

PUBLIC: tuple[APIRouter, ...] = (signin.public,)
SIGNED_IN: tuple[APIRouter, ...] = (
    signin.router,
    account.router,
    pilot_pages.router,
    pilot_pages.cached_pages,  # signs in itself (frontend/page_cache.py)
    new_pilot_pages.router,
    run_pages.router,
    worker_pages.router,
    decisions.router,
    extend.router,
    pilot_changes.router,
    compare_pages.router,
)
