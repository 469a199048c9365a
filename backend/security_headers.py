"""Security headers on every response: a Content-Security-Policy that runs only the app's own scripts.

The pages load htmx, plotly.js and charts.js from ``/static`` and have no inline script or event handler,
so ``script-src 'self'`` holds. Styles allow 'unsafe-inline' because plotly.js writes style elements and
attributes as it draws; a style cannot run code. Framing is denied (clickjacking), MIME sniffing is off,
and the referrer never leaves the origin. The API's interactive docs (Swagger UI, ``backend.api_docs``) are
served from the app too; their page has one inline script, Swagger UI's start-up call, so that one page
gets the same policy plus exactly that script by its hash (:func:`docs_policy`): no CDN, no 'unsafe-inline'.

``Cache-Control: no-store`` on every page (each carries the session's CSRF token) and on the account API
(``private_prefixes``: who am I with the CSRF token, tokens, users), so that neither a shared cache nor the
browser's back button keeps them. Answers that set their own Cache-Control keep it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

APP_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def docs_policy(script_hashes: list[str]) -> str:
    """The app's policy, whose scripts may also be the inline ones with these hashes ('sha256-...')."""
    sources = " ".join(["'self'", *script_hashes])
    return APP_POLICY.replace("script-src 'self';", f"script-src {sources};")


COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """Pure ASGI middleware (no buffering of bodies, so streamed reports and uploads are unaffected)."""

    def __init__(
        self, app: ASGIApp, *, docs_path: str, docs_script_hashes: list[str], private_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.docs_path = docs_path
        self.docs_policy = docs_policy(docs_script_hashes)
        self.private_prefixes = private_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.docs_policy if scope.get("path") == self.docs_path else APP_POLICY
        https = scope.get("scheme") == "https"
        private = str(scope.get("path", "")).startswith(self.private_prefixes)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [*COMMON, (b"content-security-policy", policy.encode())]
                if https:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
                if private or html:
                    extra.append((b"cache-control", b"no-store"))
                headers.extend((name, value) for name, value in extra if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
