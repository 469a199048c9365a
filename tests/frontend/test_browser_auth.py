"""Signing in, roles and signing out in Chromium, against the real app under uvicorn.

A wrong password is refused on the login page (401) with its message; a viewer reads every page but the
New pilot form is refused (403) with the API's message and nothing is queued; a one-time password must be
changed in the account form before anything else opens; signing out (or a session that ends while a live
page polls) leads back to /login. Every page is watched for console errors and for Content-Security-Policy
violations (``script-src 'self'``), with a control that shows such a violation would be seen.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.auth.guard import SESSION_COOKIE
from tests.support.api import PASSWORD
from tests.support.browser import (
    ENGINEER,
    VIEWER,
    Console,
    Site,
    add_pilot,
    check_csp_is_reported,
    path_of,
    sign_in,
    submit_login,
)
from tests.support.chromium import CHROMIUM

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


def _session_of(page: Any) -> str | None:
    return next((c["value"] for c in page.context.cookies() if c["name"] == SESSION_COOKIE), None)


def _answer(page: Any, method: str, path: str) -> Any:
    """``page.expect_response`` for the answer to ``method path`` (query ignored)."""
    return page.expect_response(
        lambda r: r.request.method == method and path_of(r.url).split("?")[0] == path, timeout=10_000
    )


def test_a_wrong_password_is_refused_on_the_login_page(site: Site, browser: tuple[Any, Console]) -> None:
    page, console = browser
    page.goto(f"{site.url}/pilots/new")
    assert path_of(page.url) == "/login?next=/pilots/new"
    expect(page.locator("h1")).to_have_text("Sign in")
    assert page.locator('input[name="next"]').input_value() == "/pilots/new"
    check_csp_is_reported(page, console)  # the control: a violation on this page would be seen

    for name in (ENGINEER, "nobody"):  # a wrong password and an unknown user read the same
        with _answer(page, "POST", "/login") as answer:
            submit_login(page, name, "not the password")
        assert answer.value.status == 401
        expect(page.locator("#login-error")).to_have_text("wrong user name or password")
        assert path_of(page.url) == "/login"
        assert page.locator("#login-name").input_value() == name  # kept; the password is not
        assert page.locator("#login-password").input_value() == ""
        assert page.locator('input[name="next"]').input_value() == "/pilots/new"
        assert _session_of(page) is None

    with _answer(page, "POST", "/login") as answer:
        submit_login(page, ENGINEER, PASSWORD)
    assert answer.value.status == 303
    page.wait_for_url(f"{site.url}/pilots/new")
    expect(page.locator(".who")).to_contain_text(ENGINEER)
    assert _session_of(page)
    assert console.errors(expected_statuses=frozenset({401})) == []
    assert console.csp_violations() == []


def test_a_viewer_reads_every_page_but_cannot_submit(site: Site, browser: tuple[Any, Console]) -> None:
    page, console = browser
    pilot = add_pilot(site, "viewed pilot", finished=True)
    sent = list(site.queue.sent)
    site.add_user(VIEWER, "viewer")
    sign_in(page, site.url, VIEWER)

    # Every page reads, with the user and role in the header and no Users link.
    expect(page.locator("table.pilots tbody tr").first).to_contain_text("viewed pilot")
    expect(page.locator(".who")).to_contain_text(VIEWER)
    expect(page.locator(".who .badge")).to_have_text("viewer")
    assert page.locator('nav a[href="/users"]').count() == 0
    page.select_option("#status", "succeeded")  # the filter applies on change (a script of our own)
    page.wait_for_url(f"{site.url}/?status=succeeded", timeout=10_000)
    expect(page.locator("table.pilots tbody tr").first).to_contain_text("viewed pilot")
    page.goto(f"{site.url}/pilots/{pilot['id']}")
    expect(page.locator("h1")).to_have_text("viewed pilot")
    page.wait_for_selector("#curves .main-svg", timeout=10_000)
    page.goto(f"{site.url}/runs/{pilot['runs'][0]['id']}")
    page.wait_for_selector("#run-curves .main-svg", timeout=10_000)
    assert page.goto(f"{site.url}/workers").status == 200
    assert page.goto(f"{site.url}/account").status == 200
    expect(page.locator("h1")).to_contain_text(VIEWER)
    refused = page.goto(f"{site.url}/users")
    assert refused.status == 403
    expect(page.locator("main")).to_contain_text("admin")

    # The New pilot form shows, but queueing is refused with the API's message, and nothing is queued.
    page.goto(f"{site.url}/pilots/new")
    expect(page.locator("#estimate")).not_to_be_empty(timeout=8_000)
    page.fill("#f-name", "a viewer's pilot")
    with _answer(page, "POST", "/pilots/new") as answer:
        page.get_by_role("button", name="Queue the pilot").click()
    assert answer.value.status == 403
    alert = page.locator("main .alert").first
    expect(alert).to_contain_text("is a viewer")
    expect(alert).to_contain_text("submit")
    assert path_of(page.url) == "/pilots/new"
    assert site.store.list_pilots()[1] == 1
    assert site.queue.sent == sent
    check_csp_is_reported(page, console)

    # Signing out ends the session: back to /login, and the pages send there again.
    old_session = _session_of(page)
    assert old_session
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{site.url}/login", timeout=10_000)
    assert _session_of(page) is None
    me = httpx.get(f"{site.url}/api/v1/auth/me", cookies={SESSION_COOKIE: old_session}, timeout=10)
    assert me.status_code == 401
    page.goto(f"{site.url}/pilots/{pilot['id']}")
    assert path_of(page.url) == f"/login?next=/pilots/{pilot['id']}"
    expect(page.locator("h1")).to_have_text("Sign in")

    assert console.errors(expected_statuses=frozenset({403})) == []
    assert console.csp_violations() == []


def test_a_one_time_password_is_changed_in_the_account_form(site: Site, browser: tuple[Any, Console]) -> None:
    page, console = browser
    site.add_user("newbie", "engineer", must_change_password=True)
    page.goto(f"{site.url}/")
    submit_login(page, "newbie", PASSWORD)
    page.wait_for_url(f"{site.url}/account", timeout=10_000)
    expect(page.locator("main .alert").first).to_contain_text("one-time password")
    assert page.locator("#tokens-h").count() == 0  # tokens come after the new password
    page.goto(f"{site.url}/pilots/new")
    assert path_of(page.url) == "/account"  # nothing else opens first

    def change(current: str, new: str, repeat: str) -> int:
        page.fill("#current-password", current)
        page.fill("#new-password", new)
        page.fill("#repeat-password", repeat)
        with _answer(page, "POST", "/account/password") as answer:
            page.get_by_role("button", name="Change password").click()
        return int(answer.value.status)

    new_password = "a passphrase of my own"
    assert change(PASSWORD, new_password, new_password + "!") == 422
    expect(page.locator("#password-error")).to_have_text("The two new passwords differ.")
    assert change("not the password", new_password, new_password) == 403
    expect(page.locator("#password-error")).to_contain_text("current password is wrong")
    assert change(PASSWORD, new_password, new_password) == 303
    page.wait_for_url(f"{site.url}/", timeout=10_000)
    expect(page.locator("h1")).to_have_text("Pilots")
    expect(page.locator(".who")).to_contain_text("newbie")
    page.goto(f"{site.url}/account")
    expect(page.locator("#tokens-h")).to_be_visible()

    def login(password: str) -> int:
        body = {"name": "newbie", "password": password}
        return httpx.post(f"{site.url}/api/v1/auth/login", json=body, timeout=10).status_code

    assert (login(PASSWORD), login(new_password)) == (401, 200)
    assert console.errors(expected_statuses=frozenset({403, 422})) == []
    assert console.csp_violations() == []


def test_a_live_page_whose_session_ends_goes_to_login(site: Site, browser: tuple[Any, Console]) -> None:
    page, console = browser
    pilot = add_pilot(site, "live pilot", finished=False)  # queued runs: the grid polls every 2 s
    sign_in(page, site.url, ENGINEER, path=f"/pilots/{pilot['id']}")
    expect(page.locator("#runs")).to_have_attribute("hx-get", re.compile(r"/runs$"))

    session = _session_of(page)
    assert session
    cookies = {SESSION_COOKIE: session}
    me = httpx.get(f"{site.url}/api/v1/auth/me", cookies=cookies, timeout=10).json()
    # Ended elsewhere (another tab signed out): the next poll answers 401 and htmx loads the login page.
    ended = httpx.post(
        f"{site.url}/api/v1/auth/logout", cookies=cookies, headers={"X-CSRF-Token": me["csrf_token"]}, timeout=10
    )
    assert ended.status_code == 204, ended.text
    page.wait_for_url(re.compile(r".*/login(\?.*)?$"), timeout=10_000)
    # After signing in again the user is back on the page they were reading, not on the polled fragment.
    assert path_of(page.url) == f"/login?next=/pilots/{pilot['id']}"
    submit_login(page, ENGINEER, PASSWORD)
    page.wait_for_url(f"{site.url}/pilots/{pilot['id']}", timeout=10_000)
    expect(page.locator("h1")).to_have_text("live pilot")
    assert console.errors(expected_statuses=frozenset({401})) == []
    assert console.csp_violations() == []
