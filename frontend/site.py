"""``install_pages(app)``: the pages, their static files, and where a page goes when sign-in is needed."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from frontend import account, decisions, extend, pages
from frontend.pages import HERE, ApiRefused, PasswordChangeRequired, SignInRequired, problem


async def _to_login(request: Request, error: Exception) -> Response:
    assert isinstance(error, SignInRequired)
    next_path = error.next_path
    htmx = request.headers.get("HX-Request") == "true"
    if htmx and (current := urlsplit(request.headers.get("HX-Current-URL", ""))).path.startswith("/"):
        # Back to the page the user was reading after sign-in, not to the fragment htmx asked for.
        next_path = current.path + (f"?{current.query}" if current.query else "")
    target = "/login" if next_path == "/" else f"/login?next={quote(next_path, safe='/')}"
    if htmx:
        # htmx would swap a login form into a fragment; tell it to load the whole page instead.
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _to_password_change(request: Request, _: Exception) -> Response:
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=403, headers={"HX-Redirect": "/account"})
    return RedirectResponse("/account", status_code=303)


async def _api_refused(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiRefused)
    return problem(request, error.result)


def install_pages(app: FastAPI) -> FastAPI:
    """Add the pages and their static files to an app built by ``backend.app.create_app``."""
    app.include_router(account.public)
    # Signing in is the one page form that needs no credentials (the API refuses other anonymous bodies).
    app.state.public_paths = {*getattr(app.state, "public_paths", set()), ("POST", "/login")}
    app.include_router(account.router)
    app.include_router(pages.router)
    app.include_router(decisions.router)
    app.include_router(extend.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(SignInRequired, _to_login)
    app.add_exception_handler(PasswordChangeRequired, _to_password_change)
    app.add_exception_handler(ApiRefused, _api_refused)
    return app
