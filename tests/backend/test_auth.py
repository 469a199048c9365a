"""Signing in, sessions, CSRF, API tokens, users and the sign-in throttle, on the real app and store."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from backend.auth.accounts import ensure_first_admin
from backend.auth.throttle import LoginThrottle, TooManyAttempts
from tests.support.api import API, PASSWORD, Api, add_user, bearer, open_api, pilot_body
from tests.support.site import open_site


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    with open_api(database_url, login_max_failures=3, login_window_s=4.0) as api:
        yield api


def browser(api: Api, base_url: str = "http://testserver") -> TestClient:
    """A client with no token: it has only what signing in gives it (a cookie)."""
    return TestClient(api.client.app, base_url=base_url)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> str:
    response = client.post(f"{API}/auth/login", json={"name": name, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


def test_a_session_cookie_is_http_only_same_site_and_secure_over_https(api: Api) -> None:
    add_user(api.store, "ana", "engineer")
    response = browser(api).post(f"{API}/auth/login", json={"name": "ana", "password": PASSWORD})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("rbp_session=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    body = response.json()
    assert body["user"]["name"] == "ana" and body["via"] == "session" and len(body["csrf_token"]) >= 40
    assert "submit" in body["permissions"] and "admin" not in body["permissions"]
    https = browser(api, "https://testserver").post(f"{API}/auth/login", json={"name": "ana", "password": PASSWORD})
    assert "Secure" in https.headers["set-cookie"]
    assert https.headers["strict-transport-security"].startswith("max-age=")


def test_changes_over_a_session_need_its_csrf_token(api: Api) -> None:
    add_user(api.store, "ana", "engineer")
    client = browser(api)
    csrf = sign_in(client, "ana")
    assert client.get(f"{API}/pilots").status_code == 200  # reading needs no token
    refused = client.post(f"{API}/pilots", json=pilot_body())
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    wrong = client.post(f"{API}/pilots", json=pilot_body(), headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    assert api.store.list_pilots(status=None, offset=0, limit=5)[1] == 0
    created = client.post(f"{API}/pilots", json=pilot_body(), headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201 and created.json()["pilot"]["created_by"] == "ana"
    # Sign out: the cookie is cleared and the session is gone on the server too.
    stolen = client.cookies.get("rbp_session")
    assert client.post(f"{API}/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get(f"{API}/pilots").status_code == 401
    replay = browser(api)
    replay.cookies.set("rbp_session", stolen or "")
    assert replay.get(f"{API}/auth/me").status_code == 401


def test_wrong_passwords_are_401_then_throttled_with_retry_after(api: Api) -> None:
    add_user(api.store, "ana", "engineer")
    client = browser(api)
    for _ in range(3):
        response = client.post(f"{API}/auth/login", json={"name": "ana", "password": "wrong password"})
        assert response.status_code == 401 and response.json()["detail"] == "wrong user name or password"
    unknown = client.post(f"{API}/auth/login", json={"name": "nobody", "password": "whatever12"})
    assert unknown.status_code == 401 and unknown.json()["detail"] == "wrong user name or password"
    paused = client.post(f"{API}/auth/login", json={"name": "ana", "password": PASSWORD})
    assert paused.status_code == 429 and int(paused.headers["retry-after"]) >= 1
    assert "too many failed sign-ins" in paused.json()["detail"]
    time.sleep(int(paused.headers["retry-after"]) + 0.1)  # the window of this app (login_window_s=4)
    assert client.post(f"{API}/auth/login", json={"name": "ana", "password": PASSWORD}).status_code == 200


def test_the_throttle_counts_names_and_addresses() -> None:
    now = [0.0]
    throttle = LoginThrottle(max_failures=2, window_s=60, clock=lambda: now[0])
    for _ in range(2):
        throttle.check(name="Ana", address="10.0.0.1")
        throttle.failed(name="Ana", address="10.0.0.1")
    with pytest.raises(TooManyAttempts) as paused:
        throttle.check(name="ana", address="10.0.0.2")  # names count case-blind, from any address
    assert paused.value.retry_after_s == 60
    throttle.check(name="bob", address="10.0.0.1")  # the address has failures left (4 x 2)
    for n in range(8):
        throttle.failed(name=f"user{n}", address="10.0.0.9")
    with pytest.raises(TooManyAttempts):
        throttle.check(name="fresh", address="10.0.0.9")  # one address guessing many names
    now[0] = 61.0
    throttle.check(name="ana", address="10.0.0.9")


def test_a_one_time_password_must_be_changed_before_anything_else(api: Api) -> None:
    created = api.client.post(f"{API}/users", json={"name": "ben", "role": "engineer"})
    assert created.status_code == 201
    one_time = created.json()["one_time_password"]
    assert created.json()["user"]["must_change_password"] and len(one_time) >= 16
    client = browser(api)
    csrf = sign_in(client, "ben", one_time)
    blocked = client.get(f"{API}/pilots")
    assert blocked.status_code == 403 and "one-time password" in blocked.json()["detail"]
    assert client.get(f"{API}/auth/me").status_code == 200
    change = {"current_password": one_time, "new_password": "short"}
    short = client.put(f"{API}/auth/password", json=change, headers={"X-CSRF-Token": csrf})
    assert short.status_code == 422 and "at least 10 characters" in short.json()["detail"]
    change["new_password"] = "a much better secret"
    wrong = client.put(
        f"{API}/auth/password", json={**change, "current_password": "nope"}, headers={"X-CSRF-Token": csrf}
    )
    assert wrong.status_code == 403
    done = client.put(f"{API}/auth/password", json=change, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200 and not done.json()["user"]["must_change_password"]
    assert client.get(f"{API}/pilots").status_code == 200  # the fresh session the change opened
    assert browser(api).post(f"{API}/auth/login", json={"name": "ben", "password": one_time}).status_code == 401


def test_api_tokens_are_shown_once_stored_hashed_and_revocable(api: Api) -> None:
    headers = api.as_user("ana")
    made = api.client.post(f"{API}/auth/tokens", json={"name": "laptop"}, headers=headers)
    assert made.status_code == 201
    token = made.json()["token"]
    assert token.startswith("rbp_") and len(token) > 40
    assert api.client.get(f"{API}/auth/me", headers=bearer(token)).json()["via"] == "token"
    listed = api.client.get(f"{API}/auth/tokens", headers=headers).json()["tokens"]
    assert [t["name"] for t in listed] == ["tests", "laptop"] and all("token" not in t for t in listed)
    with api.store.engine.connect() as connection:
        stored = [row[0] for row in connection.exec_driver_sql("SELECT token_hash FROM api_tokens")]
        hashes = [row[0] for row in connection.exec_driver_sql("SELECT password_hash FROM users")]
    assert token not in stored and all(len(h) == 64 for h in stored)
    assert all(h.startswith("$argon2id$") for h in hashes) and PASSWORD not in hashes
    # Others' tokens are not even confirmed to exist; an admin may revoke anybody's.
    other = api.as_user("eve")
    assert api.client.delete(f"{API}/auth/tokens/{made.json()['id']}", headers=other).status_code == 404
    assert api.client.get(f"{API}/auth/tokens?user=ana", headers=other).status_code == 403
    assert len(api.client.get(f"{API}/auth/tokens?user=*").json()["tokens"]) == 4  # admin, ana x2, eve
    revoked = api.client.delete(f"{API}/auth/tokens/{made.json()['id']}", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert api.client.get(f"{API}/auth/me", headers=bearer(token)).status_code == 401
    assert api.client.get(f"{API}/auth/me", headers=bearer("rbp_made_up")).status_code == 401
    assert api.client.get(f"{API}/auth/me", headers={"Authorization": "Basic YWJj"}).status_code == 401


def test_admins_manage_users_and_disabling_ends_access(api: Api) -> None:
    headers = api.as_user("ana")
    client = browser(api)
    sign_in(client, "ana")
    assert api.client.post(f"{API}/users", json={"name": "ana", "role": "viewer"}).status_code == 409
    bad_role = api.client.post(f"{API}/users", json={"name": "zed", "role": "root"})
    assert bad_role.status_code == 422 and "admin, engineer, viewer" in bad_role.json()["detail"]
    bad_name = api.client.post(f"{API}/users", json={"name": "a b", "role": "viewer"})
    assert bad_name.status_code == 422 and "not allowed" in bad_name.json()["detail"]
    demoted = api.client.patch(f"{API}/users/ana", json={"role": "viewer"})
    assert demoted.status_code == 200 and demoted.json()["user"]["role"] == "viewer"
    assert api.client.post(f"{API}/pilots", json=pilot_body(), headers=headers).status_code == 403
    assert api.client.patch(f"{API}/users/ana", json={"disabled": True}).json()["user"]["disabled"]
    assert api.client.get(f"{API}/pilots", headers=headers).status_code == 401  # the token stops
    assert client.get(f"{API}/pilots").status_code == 401  # and the session
    assert browser(api).post(f"{API}/auth/login", json={"name": "ana", "password": PASSWORD}).status_code == 401
    reset = api.client.patch(f"{API}/users/ana", json={"disabled": False, "reset_password": True}).json()
    assert reset["one_time_password"] and reset["user"]["must_change_password"]
    selfish = api.client.patch(f"{API}/users/admin", json={"role": "viewer"})
    assert selfish.status_code == 409 and "another admin" in selfish.json()["detail"]
    assert api.client.patch(f"{API}/users/ghost", json={"role": "viewer"}).status_code == 404


def test_no_secret_reaches_a_log_line(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    created = api.client.post(f"{API}/users", json={"name": "ben", "role": "engineer"}).json()
    client = browser(api)
    csrf = sign_in(client, "ben", created["one_time_password"])
    new = "another long secret"
    change = {"current_password": created["one_time_password"], "new_password": new}
    client.put(f"{API}/auth/password", json=change, headers={"X-CSRF-Token": csrf})
    token = api.client.post(f"{API}/auth/tokens", json={"name": "y"}).json()["token"]
    api.client.get(f"{API}/pilots", headers=bearer(token))
    client.post(f"{API}/auth/login", json={"name": "ben", "password": "a wrong guess"})
    secrets = [created["one_time_password"], new, token, csrf, client.cookies.get("rbp_session") or "-", PASSWORD]
    text = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    assert caplog.records, "expected some log lines to check"
    for secret in secrets:
        assert secret not in text


def test_first_start_creates_one_admin_once(sqlite_url: str) -> None:
    from backend.store import Store

    store = Store(sqlite_url)
    store.upgrade()
    password = ensure_first_admin(store)
    assert password and len(password) >= 16
    assert ensure_first_admin(store) is None
    users = store.accounts.list_users()
    assert [(u.name, u.role, u.must_change_password) for u in users] == [("admin", "admin", True)]
    store.dispose()


def test_security_headers_on_pages_api_and_static(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        for url in ("/", "/login", f"{API}/pilots", "/static/app.css", f"{API}/health"):
            headers = site.client.get(url).headers
            csp = headers["content-security-policy"]
            assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
            assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
            assert headers["referrer-policy"] == "same-origin"
        page = site.client.get("/").text
        assert "<script>" not in page and " onclick=" not in page  # no inline script for the CSP to allow
