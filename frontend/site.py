"""``install_pages(app)``: the pages, their static files, and where a page goes when sign-in is needed.

The static files are our CSS/JS and the vendored htmx and plotly.js (no CDN, and always the version the
backend's figures were built for).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from frontend import pages
from frontend.client import ApiRefused
from frontend.errors import api_refused
from frontend.rendering import HERE
from frontend.signin import PasswordChangeRequired, SignInRequired, to_login, to_password_change


def install_pages(app: FastAPI) -> FastAPI:
    """Add the pages and their static files to an app built by ``backend.app.create_app``."""
    # Signing in is the one page form that needs no credentials (the API refuses other anonymous bodies).
    app.state.public_paths = {*getattr(app.state, "public_paths", set()), ("POST", "/login")}
    for router in (*pages.PUBLIC, *pages.SIGNED_IN):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(SignInRequired, to_login)
    app.add_exception_handler(PasswordChangeRequired, to_password_change)
    app.add_exception_handler(ApiRefused, api_refused)
    return app
