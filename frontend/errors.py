"""Error pages: the API's refusal shown as a page with its status and reason, and the permission check a page
makes itself before it reads a large body."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from frontend.client import ApiRefused, ApiResult
from frontend.rendering import render


def error_page(request: Request, status: int, detail: str) -> HTMLResponse:
    return render(request, "error.html", status_code=status, status=status, detail=detail)


def problem(request: Request, result: ApiResult) -> HTMLResponse:
    """A page for an API error (404 for an unknown id, 503 when the database is down, ...)."""
    return error_page(request, result.status, result.detail)


def refused(request: Request, permission: str) -> HTMLResponse | None:
    """A 403 page when the signed-in user lacks ``permission`` (checked before reading a big upload)."""
    me = getattr(request.state, "me", None) or {}
    if permission in me.get("permissions", ()):
        return None
    user = me.get("user", {})
    return error_page(
        request, 403, f"user {user.get('name')!r} is a {user.get('role')}; this needs the {permission} permission"
    )


async def api_refused(request: Request, error: Exception) -> Response:
    """The exception handler for :class:`ApiRefused`, raised by ``PageApi.read`` and the sign-in check."""
    assert isinstance(error, ApiRefused)
    return problem(request, error.result)
