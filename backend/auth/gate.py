"""Credentials before bodies: a request that could carry a body to a non-public route, sent with no
credentials at all, is answered before a byte of its body is read.

Pure ASGI, outside everything that reads a body. Without it an anonymous multipart ``POST /api/v1/datasets``
declaring 100 MiB had 80 MiB spooled to a temporary file before the route's permission check answered 401,
and anonymous malformed JSON got a 422 that described the body to someone who may not send one.

"No credentials" is judged from the headers alone, without the database: no ``Authorization: Bearer`` with
something shaped like an API token, and no session cookie shaped like a session id. A request with
credentials that merely look right goes on, and the route's own check (``backend.auth.guard``) answers 401
if they are not valid; this gate only keeps anonymous bodies out. Requests without a body (GET, HEAD,
OPTIONS) pass: the routes answer them (401, or the pages' redirect to /login) without reading anything.

Public routes pass: ``app.state.public_paths`` lists them by method and path (``create_app`` adds the API's
routes with the ``public`` permission, e.g. ``POST /api/v1/auth/login``; the pages add their sign-in form).
Public routes have no path parameters, so an exact match is enough. API paths get the API's 401 (``WWW-Authenticate:
Bearer``); page paths go to /login like the pages do (htmx gets 401 with ``HX-Redirect``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from starlette.requests import cookie_parser
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.auth.guard import SESSION_COOKIE, UNSAFE_METHODS
from backend.auth.secrets import TOKEN_PREFIX
from backend.errors import error_response

# An API token (rbp_ + 43 URL-safe characters) and a session id (43 URL-safe characters).
_TOKEN = re.compile(rf"{re.escape(TOKEN_PREFIX)}[A-Za-z0-9_-]{{43}}")
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")
SIGN_IN_FIRST = "sign in first: send 'Authorization: Bearer <API token>', or sign in at /login"


def _headers(scope: Scope) -> dict[bytes, str]:
    return {key.lower(): value.decode("latin-1") for key, value in scope.get("headers", [])}


def has_credentials(scope: Scope) -> bool:
    """Whether the request carries something shaped like an API token or a session cookie."""
    headers = _headers(scope)
    scheme, _, value = headers.get(b"authorization", "").partition(" ")
    if scheme.lower() == "bearer" and _TOKEN.fullmatch(value.strip()):
        return True
    session = cookie_parser(headers.get(b"cookie", "")).get(SESSION_COOKIE, "")
    return bool(_SESSION_ID.fullmatch(session))


def is_public(app: Any, scope: Scope) -> bool:
    """Whether this request's method and path are in the app's ``state.public_paths``."""
    public_paths: set[tuple[str, str]] = getattr(getattr(app, "state", None), "public_paths", set())
    return (scope.get("method", ""), scope.get("path", "")) in public_paths


class CredentialsFirst:
    """Refuses anonymous requests that may carry a body to non-public routes before the body is read."""

    def __init__(self, app: ASGIApp, *, api_prefix: str) -> None:
        self.app = app
        self.api_prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope.get("method") in UNSAFE_METHODS
            and not has_credentials(scope)
            and not is_public(scope.get("app"), scope)
        ):
            await self.refusal(scope)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> Response:
        path = str(scope.get("path", ""))
        if path.startswith(self.api_prefix + "/") or path == self.api_prefix:
            response: Response = error_response(401, detail=SIGN_IN_FIRST)
            response.headers["WWW-Authenticate"] = "Bearer"
        elif _headers(scope).get(b"hx-request") == "true":
            response = Response(status_code=401, headers={"HX-Redirect": "/login"})
        else:
            response = RedirectResponse(f"/login?next={quote(path, safe='/')}", status_code=303)
        # The connection may still hold the body the client is sending: close it rather than read it.
        response.headers["Connection"] = "close"
        return response
