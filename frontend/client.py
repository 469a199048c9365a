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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import Request

API = "/api/v1"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"  # the same token in a form field, for forms posted without JavaScript
_FORWARDED = ("cookie", "authorization")


@dataclass(frozen=True)
class ApiResult:
    status: int
    body: Any
    content_type: str = "application/json"
    set_cookies: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def detail(self) -> str:
        if isinstance(self.body, dict):
            return str(self.body.get("detail", ""))
        return str(self.body)


class PageApi:
    """Calls ``/api/v1/...`` on the app that serves the current request."""

    def __init__(self, request: Request) -> None:
        self._request = request
        client = (request.client.host, request.client.port) if request.client else ("127.0.0.1", 0)
        self._transport = httpx.ASGITransport(app=request.app, client=client)
        self._base = f"{request.url.scheme}://pages.internal"

    def _headers(self, method: str) -> dict[str, str]:
        headers = {name: value for name in _FORWARDED if (value := self._request.headers.get(name))}
        if method != "GET":
            token = self._request.headers.get(CSRF_HEADER) or getattr(self._request.state, "form_csrf", None)
            if token:
                headers[CSRF_HEADER] = token
        return headers

    async def call(
        self, method: str, path: str, *, params: Any = None, json: Any = None, files: Any = None, data: Any = None
    ) -> ApiResult:
        headers = self._headers(method)
        async with httpx.AsyncClient(transport=self._transport, base_url=self._base, headers=headers) as client:
            response = await client.request(method, f"{API}{path}", params=params, json=json, files=files, data=data)
        content_type = response.headers.get("content-type", "")
        body: Any = response.json() if content_type.startswith("application/json") else response.text
        cookies = tuple(response.headers.get_list("set-cookie"))
        return ApiResult(status=response.status_code, body=body, content_type=content_type, set_cookies=cookies)

    async def get(self, path: str, **params: Any) -> ApiResult:
        return await self.call("GET", path, params={k: v for k, v in params.items() if v is not None})

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
