"""Error responses: every failure the client can cause is a 4xx with a readable line, never a 500.

Every error body is ``{"detail": "<one line>", "errors": [{"field", "message"}]}`` (``ErrorOut``). 422
messages name the field by its path (``arms[2].params.drop_prob``) and what is allowed. Bodies are
written as ASCII JSON: a message may quote the client's input, which can hold lone surrogates or NaN,
and the default renderer (UTF-8, no NaN) would crash on them with a 500.
"""

from __future__ import annotations

import json
import logging
import types
from collections.abc import Sequence
from typing import Any, Union, get_args, get_origin

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from backend.catalog import CatalogError, FieldError, show
from backend.queue import QueueUnavailable
from backend.reports.charts import ChartsUnavailable
from backend.schemas import ErrorOut, PilotCreate
from backend.store import Conflict, NotFound, StoreUnavailable

log = logging.getLogger(__name__)

# What each status means, for the OpenAPI documentation of the routes. Routers attach the ones their
# routes can answer (``APIRouter(responses=error_responses(...))``), so the fuzz test can hold every
# response to the documented statuses and to the ``ErrorOut`` body.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no valid credentials: send 'Authorization: Bearer <API token>'"},
    403: {"model": ErrorOut, "description": "the user's role lacks the permission, or a CSRF token is missing"},
    404: {"model": ErrorOut, "description": "no such pilot or run (or user, token)"},
    409: {"model": ErrorOut, "description": "not possible in the current state"},
    413: {"model": ErrorOut, "description": "the request body is over its limit (1 MiB for JSON)"},
    415: {"model": ErrorOut, "description": "the body is not application/json"},
    422: {"model": ErrorOut, "description": "invalid input: each field's problem and the allowed values"},
    429: {"model": ErrorOut, "description": "too many attempts: wait as Retry-After says"},
    503: {"model": ErrorOut, "description": "the database or the broker cannot be reached"},
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documentation of these error statuses, for a router's ``responses``."""
    return {status: ERROR_RESPONSES[status] for status in statuses}


class InputError(ValueError):
    """Input a route checks itself (e.g. the ``keys`` list): 422 with this message."""


class ErrorResponse(JSONResponse):
    """JSON in ASCII: safe for any text a message quotes (the content is strings only)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def error_response(status: int, errors: Sequence[FieldError] = (), detail: str | None = None) -> ErrorResponse:
    items = [{"field": e.field, "message": e.message} for e in errors]
    line = detail if detail is not None else "; ".join(f"{e.field}: {e.message}" for e in errors)
    return ErrorResponse(status_code=status, content={"detail": line, "errors": items})


def field_path(loc: Sequence[int | str]) -> str:
    """``("body", "arms", 2, "params")`` -> ``"arms[2].params"``; a query or path parameter by its name."""
    parts = list(loc[1:] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else loc)
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> ``X``; anything else as is."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _model_at(loc: Sequence[int | str], root: Any = PilotCreate) -> type[BaseModel] | None:
    """The request model at a body path under ``root`` (the route's body model), to list its allowed fields."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if get_origin(current) is list:
            if not isinstance(part, int):
                return None
            current = get_args(current)[0]
        elif isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            current = current.model_fields[str(part)].annotation
        else:
            return None
    current = _unwrap(current)
    if get_origin(current) is None and isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def body_model_of(request: Request) -> Any:
    """The body model of the route that served ``request`` (None without a body)."""
    body = getattr(request.scope.get("route"), "body_field", None)
    return getattr(getattr(body, "field_info", None), "annotation", None)


def validation_errors(errors: Sequence[Any], body_model: Any = PilotCreate) -> list[FieldError]:
    """Pydantic's errors as readable field errors (``body_model``: the route's body, for allowed field lists)."""
    out: list[FieldError] = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        kind = error.get("type", "")
        message = str(error.get("msg", "invalid"))
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        if kind == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "")
            out.append(FieldError("body", f"is not valid JSON ({reason}) at character {loc[-1] if loc else '?'}"))
            continue
        if kind == "extra_forbidden":
            model = _model_at(loc[1:-1], body_model) if loc[:1] == ("body",) else None
            allowed = f"; allowed: {', '.join(model.model_fields)}" if model else ""
            out.append(FieldError(field_path(loc), f"unknown field{allowed}"))
            continue
        if kind == "missing":
            out.append(FieldError(field_path(loc), "is required"))
            continue
        if "input" in error and "(got " not in message:
            message += f" (got {show(error['input'])})"
        out.append(FieldError(field_path(loc), message))
    return out


def unreadable_body(error: StarletteHTTPException) -> str | None:
    """Why a body could not be parsed at all, for the 400s FastAPI and Starlette raise; None for other errors.

    Both frameworks answer a body they cannot decode with a bare 400 ("There was an error parsing the
    body"): JSON that is not UTF-8, a broken multipart body. To the client that is invalid input like
    malformed JSON, which is already a 422 naming the body, so it becomes one too, saying what is wrong.
    """
    if error.status_code != 400:
        return None
    cause = error.__cause__ or error.__context__
    if isinstance(cause, UnicodeDecodeError):
        return f"is not valid JSON: not UTF-8 ({cause.reason} at byte {cause.start})"
    if isinstance(cause, MultiPartException):
        return f"is not valid multipart/form-data: {cause.message}"
    return None


def install_error_handlers(app: FastAPI) -> None:
    """Map the store's, the queue's and validation errors to 404, 409, 422 and 503."""

    async def not_found(_: Request, error: Exception) -> ErrorResponse:
        return error_response(404, detail=str(error))

    async def conflict(_: Request, error: Exception) -> ErrorResponse:
        return error_response(409, detail=str(error))

    async def unavailable(_: Request, error: Exception) -> ErrorResponse:
        log.warning("service unavailable: %s", error)
        return error_response(503, detail=str(error))

    async def catalog_error(_: Request, error: Exception) -> ErrorResponse:
        assert isinstance(error, CatalogError)
        return error_response(422, error.errors)

    async def request_invalid(request: Request, error: Exception) -> ErrorResponse:
        assert isinstance(error, RequestValidationError)
        return error_response(422, validation_errors(error.errors(), body_model_of(request)))

    async def value_error(_: Request, error: Exception) -> ErrorResponse:
        return error_response(422, detail=str(error))

    async def database_error(_: Request, error: Exception) -> ErrorResponse:
        # The store turns connection failures into StoreUnavailable where it can; one that surfaces
        # mid-request as a driver error is the same outage, not a bug: 503 with the driver's first line.
        assert isinstance(error, OperationalError)
        reason = str(error.orig if error.orig is not None else error).strip().splitlines()
        log.warning("database error: %s", reason[0] if reason else type(error).__name__)
        return error_response(503, detail=f"the database cannot be reached: {reason[0] if reason else 'unknown error'}")

    async def http_error(_: Request, error: Exception) -> ErrorResponse:
        assert isinstance(error, StarletteHTTPException)
        unreadable = unreadable_body(error)
        if unreadable is not None:
            return error_response(422, [FieldError("body", unreadable)])
        # A refusal that names its field (backend.limits) lists it, as validation errors do.
        field = getattr(error, "field", None)
        errors = [FieldError(field, str(error.detail))] if isinstance(field, str) else []
        response = error_response(error.status_code, errors, detail=str(error.detail))
        response.headers.update(error.headers or {})
        return response

    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(Conflict, conflict)
    app.add_exception_handler(StoreUnavailable, unavailable)
    app.add_exception_handler(QueueUnavailable, unavailable)
    app.add_exception_handler(ChartsUnavailable, unavailable)  # Chromium missing or failing: the PDF only
    app.add_exception_handler(CatalogError, catalog_error)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(InputError, value_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(OperationalError, database_error)
