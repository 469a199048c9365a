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

from backend.catalog import CatalogError, FieldError, show
from backend.queue import QueueUnavailable
from backend.schemas import ErrorOut, PilotCreate
from backend.store import Conflict, NotFound, StoreUnavailable

log = logging.getLogger(__name__)

# What each status means, for the OpenAPI documentation of the routes.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "no such pilot or run"},
    409: {"model": ErrorOut, "description": "not possible in the current state"},
    422: {"model": ErrorOut, "description": "invalid input: each field's problem and the allowed values"},
    503: {"model": ErrorOut, "description": "the database or the broker cannot be reached"},
}


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


def _model_at(loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The request model at a body path (PilotCreate is the only body), to list its allowed fields."""
    current: Any = PilotCreate
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


def validation_errors(errors: Sequence[Any]) -> list[FieldError]:
    """Pydantic's errors as readable field errors."""
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
            model = _model_at(loc[1:-1]) if loc[:1] == ("body",) else None
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

    async def request_invalid(_: Request, error: Exception) -> ErrorResponse:
        assert isinstance(error, RequestValidationError)
        return error_response(422, validation_errors(error.errors()))

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
        response = error_response(error.status_code, detail=str(error.detail))
        response.headers.update(error.headers or {})
        return response

    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(Conflict, conflict)
    app.add_exception_handler(StoreUnavailable, unavailable)
    app.add_exception_handler(QueueUnavailable, unavailable)
    app.add_exception_handler(CatalogError, catalog_error)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(InputError, value_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(OperationalError, database_error)
