"""Error pages: the API's refusal shown as a page with its status and reason, and the permission check a page
makes itself before it reads a large body."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from frontend.client import ApiRefused, ApiResult
from frontend.rendering import render, signed_in_user


def error_page(request: Request, status: int, detail: str) -> HTMLResponse:
    return render(request, "error.html", status_code=status, status=status, detail=detail)


def problem(request: Request, result: ApiResult) -> HTMLResponse:
    """A page for an API error (404 for an unknown id, 503 when the database is down, ...)."""
    return error_page(request, result.status, result.detail)


def refused(request: Request, permission: str) -> HTMLResponse | None:
    """A 403 page when the signed-in user lacks ``permission`` (checked before reading a big upload)."""
    me = signed_in_user(request)
    if me is not None and permission in me.permissions:
        return None
    name, role = (me.user.name, me.user.role) if me else (None, None)
    return error_page(request, 403, f"user {name!r} is a {role}; this needs the {permission} permission")


async def api_refused(request: Request, error: Exception) -> Response:
    """The exception handler for :class:`ApiRefused`, raised by ``PageApi.read`` and the sign-in check."""
    assert isinstance(error, ApiRefused)
    return problem(request, error.result)
