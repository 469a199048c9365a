"""The pages' only way to the data: the app's own JSON API, called in-process (no socket, no HTTP server).

Why not call the backend's services directly: import-linter forbids ``frontend`` from importing
``backend.store`` even indirectly, and every backend service module (views, analysis, reports) imports it.
Going through the API keeps that contract, and means the pages show exactly what the API serves: the same
validation, the same 404/409/422 bodies. The cost is one ASGI call per read (well under a millisecond of
overhead next to the database work).

Each call carries the browser's own credentials (its session cookie, or an ``Authorization`` header),
its address (the sign-in throttle counts per address) and scheme (the cookie is Secure over https), and
for a change the CSRF token the browser sent: the API checks them all, so a page can never do more than
its user may.

Each call is one ASGI call built here (httpx only encodes the request): its scope carries the
``INTERNAL_CALL`` mark, so the request metrics count the page once and not its parts, and a ``state``
shared by the calls of one page request, so the credentials are looked up by its first call only
(``backend/internal_calls.py``). After a change (anything but GET) the next call looks them up again: the
change may have been a sign-in, a sign-out or a new password.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from fastapi import Request
from pydantic import BaseModel, ValidationError

from backend.internal_calls import INTERNAL_CALL
from backend.schemas import ErrorItem, ErrorOut

API = "/api/v1"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"  # the same token in a form field, for forms posted without JavaScript
_FORWARDED = ("cookie", "authorization")
SHARED_STATE = "api_calls_state"  # the page request's state attribute that its API calls share

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class ApiResult:
    status: int
    body: Any
    content_type: str = "application/json"
    set_cookies: tuple[str, ...] = ()
    etag: str | None = None  # the answer's ETag header, if any (frontend/page_cache.py revalidates with it)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def detail(self) -> str:
        if isinstance(self.body, dict):
            return str(self.body.get("detail", ""))
        return str(self.body)

    @property
    def errors(self) -> list[ErrorItem]:
        """An error answer's ``errors[]`` (a 422 names each field); empty for other answers."""
        if self.ok:
            return []
        try:
            return ErrorOut.model_validate(self.body).errors
        except ValidationError:
            return []

    def errors_text(self, *, fields: bool = True) -> str:
        """The errors in one line (``field: message; ...``), or ``detail`` when the answer names no field."""
        parts = [f"{error.field}: {error.message}" if fields else error.message for error in self.errors]
        return "; ".join(parts) if parts else self.detail

    def parsed(self, model: type[ModelT]) -> ModelT:
        """The body as the API's response model (``PilotDetail``, ``RunOut``, ...) the route declares."""
        return model.model_validate(self.body)


class ApiRefused(Exception):
    """The API refused a call the page cannot go on without (404 for an unknown id, 503 when the database is
    down, an error other than 401 on the sign-in check): the page becomes the error page (``frontend.errors``).
    """

    def __init__(self, result: ApiResult) -> None:
        self.result = result


class PageApi:
    """Calls ``/api/v1/...`` on the app that serves the current request."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self._client = (request.client.host, request.client.port) if request.client else ("127.0.0.1", 0)
        self._base = f"{request.url.scheme}://pages.internal"
        shared = getattr(request.state, SHARED_STATE, None)
        if shared is None:
            shared = {}
            setattr(request.state, SHARED_STATE, shared)
        self._shared: dict[str, Any] = shared

    def _headers(self, method: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {name: value for name in _FORWARDED if (value := self._request.headers.get(name))}
        headers.update(extra or {})
        if method != "GET":
            token = self._request.headers.get(CSRF_HEADER) or getattr(self._request.state, "form_csrf", None)
            if token:
                headers[CSRF_HEADER] = token
        return headers

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        files: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> ApiResult:
        url = f"{self._base}{API}{path}"
        request = httpx.Request(
            method, url, params=params, json=json, files=files, data=data, headers=self._headers(method, headers)
        )
        status, raw_headers, body = await _asgi_call(self._request.app, self._scope(request), request.read())
        if method != "GET":
            self._shared.pop("principal", None)
        response = httpx.Response(status, headers=raw_headers, content=body)
        content_type = response.headers.get("content-type", "")
        parsed: Any = response.json() if content_type.startswith("application/json") else response.text
        cookies = tuple(response.headers.get_list("set-cookie"))
        etag = response.headers.get("etag")
        return ApiResult(status=status, body=parsed, content_type=content_type, set_cookies=cookies, etag=etag)

    def _scope(self, request: httpx.Request) -> dict[str, Any]:
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?", 1)[0],
            "query_string": request.url.query,
            "root_path": "",
            "headers": [(name.lower(), value) for name, value in request.headers.raw],
            "client": self._client,
            "server": ("pages.internal", 80),
            "state": self._shared,
            INTERNAL_CALL: True,
        }

    async def get(self, path: str, **params: Any) -> ApiResult:
        return await self.call("GET", path, params={k: v for k, v in params.items() if v is not None})

    async def read(self, path: str, model: type[ModelT], **params: Any) -> ModelT:
        """GET ``path`` as ``model``; an error answer raises :class:`ApiRefused` (the page shows it)."""
        result = await self.get(path, **params)
        if not result.ok:
            raise ApiRefused(result)
        return result.parsed(model)

    async def post(self, path: str, json: Any = None) -> ApiResult:
        return await self.call("POST", path, json=json)

    async def put(self, path: str, json: Any = None) -> ApiResult:
        return await self.call("PUT", path, json=json)

    async def patch(self, path: str, json: Any = None) -> ApiResult:
        return await self.call("PATCH", path, json=json)

    async def delete(self, path: str) -> ApiResult:
        return await self.call("DELETE", path)

    async def upload(self, path: str, *, files: Any, data: Any = None) -> ApiResult:
        """A multipart POST (``files``: httpx's ``{"field": (filename, file object, content type)}``)."""
        return await self.call("POST", path, files=files, data=data)


async def _asgi_call(app: Any, scope: dict[str, Any], body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Run one request through ``app`` in this task; (status, headers, body). The app's errors propagate."""
    sent_request = False
    done = asyncio.Event()
    status, headers, chunks = 500, [], []

    async def receive() -> dict[str, Any]:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()  # as a client that stays connected until the response is complete
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status, headers = int(message["status"]), list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    try:
        await app(scope, receive, send)
    finally:
        done.set()
    return status, headers, b"".join(chunks)
