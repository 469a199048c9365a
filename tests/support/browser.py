"""What the browser tests share: the real app under uvicorn with users in its store, signing in, and a
watch on the browser console (script errors and Content-Security-Policy violations).

The server (``tests/frontend/conftest.py``) holds an engineer, ``ENGINEER``, with ``PASSWORD`` and an API
token; direct HTTP calls use the token, the browser signs in, either through the /login form
(:func:`sign_in`) or with the session cookie of ``POST /api/v1/auth/login`` (:func:`add_session`).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from backend.auth.guard import SESSION_COOKIE
from backend.store import RunStatus, Store
from pilot_cli.webapp import create_app
from tests.support.api import PASSWORD, RecordingQueue, add_user, bearer, pilot_body, start
from tests.support.site import site_settings

ENGINEER = "ada"
VIEWER = "vic"
# Chromium's line for any answer with an error status, e.g. a form refused with 401 or 403.
_STATUS_LINE = re.compile(r"the server responded with a status of (\d{3})")


@dataclass
class Site:
    """The app served on ``url`` (API and pages), its store and recording queue, and the engineer's token."""

    url: str
    store: Store
    queue: RecordingQueue
    token: str

    def api(self, method: str, path: str, *, token: str | None = None, **options: Any) -> httpx.Response:
        """``/api/v1{path}`` with an API token (the engineer's unless ``token``)."""
        headers = {**bearer(token or self.token), **options.pop("headers", {})}
        return httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, timeout=30, **options)

    def add_user(self, name: str, role: str, *, must_change_password: bool = False) -> str:
        """A user with ``PASSWORD``; returns their API token."""
        return add_user(self.store, name, role, must_change_password=must_change_password)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(database_url: str) -> Iterator[Site]:
    """The whole web app under uvicorn on a free port, on a fresh store holding the engineer ``ENGINEER``."""
    settings = site_settings(database_url)
    store = Store(settings.database_url)
    store.upgrade()
    queue = RecordingQueue(store=store)
    token = add_user(store, ENGINEER, "engineer")
    app = create_app(settings, store=store, queue=queue)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield Site(url=f"http://127.0.0.1:{port}", store=store, queue=queue, token=token)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.dispose()


def path_of(url: str) -> str:
    """``/pilots/new?x=1`` of ``http://host:port/pilots/new?x=1``."""
    return re.sub(r"^[a-z]+://[^/]+", "", url) or "/"


def submit_login(page: Any, name: str, password: str) -> None:
    """Fill and send the /login form the page shows."""
    page.fill("#login-name", name)
    page.fill("#login-password", password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def sign_in(page: Any, base: str, name: str, password: str = PASSWORD, *, path: str = "/") -> None:
    """Open ``path`` signed out, follow the redirect to /login, sign in with the form, and land on ``path``."""
    page.goto(f"{base}{path}")
    login = "/login" if path == "/" else f"/login?next={path}"
    assert path_of(page.url) == login, page.url
    submit_login(page, name, password)
    page.wait_for_url(f"{base}{path}", timeout=10_000)


def session_cookie(base: str, name: str, password: str = PASSWORD) -> dict[str, Any]:
    """A new session of ``name`` from ``POST /api/v1/auth/login``, as a cookie for a Playwright context."""
    response = httpx.post(f"{base}/api/v1/auth/login", json={"name": name, "password": password}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["csrf_token"], response.text
    set_cookie = response.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "samesite=lax" in set_cookie.lower(), set_cookie
    return {"name": SESSION_COOKIE, "value": response.cookies[SESSION_COOKIE], "url": base, "httpOnly": True}


def add_session(context: Any, base: str, name: str, password: str = PASSWORD) -> None:
    """Sign a Playwright browser context in as ``name`` without the form."""
    context.add_cookies([session_cookie(base, name, password)])


@dataclass
class Console:
    """Everything the pages say on the browser console, and their uncaught script errors."""

    messages: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    page_errors: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> Any:
        page.on("console", lambda message: self.messages.append((message.type, message.text)))
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        return page

    def csp_violations(self) -> list[str]:
        """Chromium reports every resource or script the policy refuses on the console ("Refused to ...")."""
        return [
            text for _, text in self.messages if "Content Security Policy" in text or "Content-Security-Policy" in text
        ]

    def errors(self, *, expected_statuses: frozenset[int] = frozenset()) -> list[str]:
        """Console errors and script errors, less Chromium's line for an answer whose status was expected."""
        found = list(self.page_errors)
        for kind, text in self.messages:
            status = _STATUS_LINE.search(text)
            if kind == "error" and not (status and int(status.group(1)) in expected_statuses):
                found.append(text)
        return found


def chart_points(page: Any, element_id: str) -> int:
    """The number of points the chart ``#element_id`` draws (its ``data-points``; 0 before it is drawn)."""
    return int(page.locator(f"#{element_id}").get_attribute("data-points") or 0)


def wait_for_chart_points(page: Any, element_id: str, *, more_than: int, timeout_s: float = 10.0) -> int:
    """Wait until the chart draws more than ``more_than`` points; returns how many.

    Polled from here: ``page.wait_for_function`` compiles its predicate with ``eval`` in the page, which the
    policy ``script-src 'self'`` refuses (as it should).
    """
    deadline = time.monotonic() + timeout_s
    while (points := chart_points(page, element_id)) <= more_than:
        assert time.monotonic() < deadline, f"#{element_id} still draws {points} points after {timeout_s:.0f} s"
        page.wait_for_timeout(100)
    return points


def check_csp_is_reported(page: Any, console: Console) -> None:
    """The control of the CSP checks: an inline script on a page of ours is refused, and the watch sees it."""
    before = len(console.csp_violations())
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text, timeout=5_000):
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.__inlineRan = true'; document.body.append(s); }"
        )
    assert page.evaluate("window.__inlineRan === undefined"), "an inline script ran: the CSP is not enforced"
    assert len(console.csp_violations()) == before + 1, console.csp_violations()
    # The control's own report is not a finding of the test that called it.
    last = max(i for i, (_, text) in enumerate(console.messages) if "Content Security Policy" in text)
    del console.messages[last]


def add_pilot(site: Site, name: str, *, finished: bool) -> dict[str, Any]:
    """A pilot of the engineer's (two runs); with ``finished`` its runs have succeeded."""
    created = site.api("POST", "/pilots", json=pilot_body(name=name, seeds=1, training={"epochs": 2}))
    assert created.status_code == 201, created.text
    pilot: dict[str, Any] = created.json()["pilot"]
    if finished:
        cost = {"device_hours": 0.1, "device_kind": "cpu", "device_name": "cpu", "samples_per_second": 1000.0}
        for run in pilot["runs"]:
            start(site.store, run["id"])
            site.store.write_points(run_id=run["id"], points=[("test_acc", 1, 0.8), ("test_acc", 2, 0.85)])
            site.store.finish_run(
                run_id=run["id"], status=RunStatus.SUCCEEDED, error=None, cost=cost, final_metrics={"test_acc": 0.85}
            )
    return pilot
