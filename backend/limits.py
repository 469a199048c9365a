"""Request bodies refused before they are read: too large (413), or not JSON where a route takes JSON (415).

``BodyLimits`` is pure ASGI middleware, so it sees the body before any route buffers it:

* **Size.** A body may be at most ``MAX_BODY_BYTES`` (1 MiB: a pilot with every field at its maximum is
  well under 100 KiB). ``multipart/form-data`` bodies carry dataset zips instead: they may reach the upload
  cap from the settings plus ``MULTIPART_SLACK``, and the upload routes enforce the exact cap themselves
  with their own message (a declared length over it is theirs to refuse; this is the backstop for bodies
  that are streamed without one). A declared ``Content-Length`` over the cap is refused at once, without
  reading a byte; a chunked body is counted as it arrives and refused when the count passes the cap.
* **Content type.** A route whose body is JSON, sent a non-empty body that is not ``application/json`` (or
  ``application/*+json``), gets 415 "send application/json". FastAPI would otherwise hand the raw bytes to
  validation and answer a 422 that blames the fields ("Input should be a valid dictionary") rather than
  the header. The check runs on the route's first read of the body, when routing has put the route into
  the (shared) ASGI scope; routes that never read a body never trigger it.

Refusals raised inside a route's body read are ``HTTPException``s, so the app's error handler renders
them like every other error (``{"detail", "errors"}``); FastAPI re-raises those from its body parsing
instead of turning them into a generic 400.
"""

from __future__ import annotations

from typing import Any

from fastapi import params
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.catalog import FieldError
from backend.errors import error_response

MAX_BODY_BYTES = 2**20
# Room around the zip in a multipart upload: the boundaries, the part headers and the name field.
MULTIPART_SLACK = 2**20


def size_text(size: int) -> str:
    """``1 MiB (1,048,576 bytes)``: the binary unit people read, and the exact number to compare against."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            amount = size / scale
            shown = f"{amount:.0f}" if amount == int(amount) else f"{amount:.1f}"
            return f"{shown} {unit} ({size:,} bytes)"
    return f"{size:,} bytes"


class BodyTooLarge(HTTPException):
    """413: the body is over its cap (raised from the body stream, or answered before it)."""

    field = "body"  # listed in the error body's ``errors`` by the app's HTTPException handler

    def __init__(self, cap: int, declared: int | None = None) -> None:
        size = f"is {declared:,} bytes" if declared is not None else "goes on past the limit"
        super().__init__(413, f"the request body {size}; the limit is {size_text(cap)}")


class NotJson(HTTPException):
    """415: a JSON route was sent something else."""

    field = "body"

    def __init__(self, content_type: str) -> None:
        got = f"got {content_type[:100]!r}" if content_type else "got no Content-Type"
        super().__init__(415, f"send application/json: this route takes a JSON body ({got})")


def is_json(content_type: str) -> bool:
    """``application/json`` or ``application/<anything>+json``, with or without parameters (charset)."""
    media = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def takes_json(route: Any) -> bool:
    """Whether a routed request's route reads a JSON body (FastAPI routes with a body that is not a form)."""
    body_field = getattr(route, "body_field", None)
    return body_field is not None and not isinstance(body_field.field_info, params.Form)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


class BodyLimits:
    """Caps request bodies (413) and refuses non-JSON bodies on JSON routes (415); see the module docstring."""

    def __init__(self, app: ASGIApp, *, upload_max_bytes: int, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.multipart_max_bytes = max(max_bytes, upload_max_bytes + MULTIPART_SLACK)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type = _header(scope, b"content-type")
        multipart = content_type.split(";", 1)[0].strip().lower() == "multipart/form-data"
        cap = self.multipart_max_bytes if multipart else self.max_bytes
        length = _header(scope, b"content-length").strip()
        if length.isdigit() and int(length) > cap:
            # Refused without reading: the client learns the cap before it has sent the rest.
            await self.refuse(BodyTooLarge(cap, declared=int(length)), scope, receive, send)
            return

        received = 0
        first = True

        async def counted_receive() -> Message:
            nonlocal received, first
            message = await receive()
            if message["type"] != "http.request":
                return message
            received += len(message.get("body", b""))
            if received > cap:
                raise BodyTooLarge(cap)
            if first:
                first = False
                has_body = received > 0 or message.get("more_body", False)
                # By the first read the router has put the matched route into this same scope.
                if has_body and not is_json(content_type) and takes_json(scope.get("route")):
                    raise NotJson(content_type)
            return message

        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except (BodyTooLarge, NotJson) as refusal:
            # Normally the app's HTTPException handler answers; this covers a read outside a route.
            if started:
                raise
            await self.refuse(refusal, scope, receive, send)

    @staticmethod
    async def refuse(refusal: BodyTooLarge | NotJson, scope: Scope, receive: Receive, send: Send) -> None:
        """The refusal as the app's error body, with the field named as the app's handler names it."""
        errors = [FieldError(refusal.field, refusal.detail)]
        await error_response(refusal.status_code, errors, detail=refusal.detail)(scope, receive, send)
