"""The sign-in, account and users pages, through the real app with a browser's cookie (no token)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.support.api import API, PASSWORD, add_user
from tests.support.site import csrf_of, open_site


def test_sign_in_and_out_through_the_forms(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        add_user(site.store, "ana", "engineer")
        browser = TestClient(site.client.app)
        assert browser.get("/workers", follow_redirects=False).headers["location"] == "/login?next=/workers"
        form = browser.get("/login?next=/workers")
        assert form.status_code == 200 and 'name="password"' in form.text and 'value="/workers"' in form.text
        wrong = browser.post("/login", data={"name": "ana", "password": "nope", "next": "/workers"})
        assert wrong.status_code == 401 and "wrong user name or password" in wrong.text
        assert 'value="ana"' in wrong.text  # the name stays filled in
        evil = browser.post(
            "/login", data={"name": "ana", "password": PASSWORD, "next": "//evil.example/x"}, follow_redirects=False
        )
        assert evil.status_code == 303 and evil.headers["location"] == "/"  # never off the site
        signed = browser.post("/login", data={"name": "ana", "password": PASSWORD, "next": "/workers"})
        assert signed.status_code == 200 and signed.url.path == "/workers"
        page = browser.get("/").text
        assert "ana" in page and "engineer" in page and "Sign out" in page
        assert re.search(r"hx-headers='\{&#34;X-CSRF-Token&#34;: &#34;[\w-]+&#34;\}'", page) or "X-CSRF-Token" in page
        # A form posted without JavaScript carries the token as a field; without it the change is refused.
        token = csrf_of(page)
        assert browser.post("/logout", follow_redirects=False).status_code == 403
        out = browser.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert browser.get("/", follow_redirects=False).status_code == 303


def test_a_one_time_password_leads_to_the_account_page_first(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        one_time = site.client.post(f"{API}/users", json={"name": "ben", "role": "viewer"}).json()["one_time_password"]
        browser = TestClient(site.client.app)
        first = browser.post("/login", data={"name": "ben", "password": one_time, "next": "/"})
        assert first.url.path == "/account" and "one-time password" in first.text
        assert browser.get("/", follow_redirects=False).headers["location"] == "/account"
        token = csrf_of(first.text)
        fields = {"csrf_token": token, "current_password": one_time, "new_password": "my own secret"}
        differ = browser.post("/account/password", data={**fields, "repeat_password": "something else"})
        assert differ.status_code == 422 and "differ" in differ.text
        done = browser.post("/account/password", data={**fields, "repeat_password": "my own secret"})
        assert done.status_code == 200 and done.url.path == "/"
        account = browser.get("/account").text
        made = browser.post("/account/tokens", data={"csrf_token": csrf_of(account), "name": "script"})
        assert made.status_code == 201
        shown = re.search(r'id="new-token">(rbp_[\w-]+)<', made.text)
        assert (
            shown
            and browser.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {shown.group(1)}"}).json()["user"][
                "name"
            ]
            == "ben"
        )
        assert shown.group(1) not in browser.get("/account").text  # shown once


def test_the_users_page_is_for_admins(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        page = site.client.get("/users")
        assert page.status_code == 200 and "Add a user" in page.text
        added = site.client.post("/users", data={"name": "<b>eve</b>", "role": "engineer"})
        assert added.status_code == 422 and "not allowed" in added.text and "<b>eve</b>" not in added.text
        added = site.client.post("/users", data={"name": "eve", "role": "engineer"})
        assert added.status_code == 201 and 'id="one-time-password"' in added.text
        changed = site.client.post("/users/eve", data={"role": "viewer", "action": "role"})
        assert changed.status_code == 200 and site.store.accounts.get_user(name="eve").role == "viewer"
        disabled = site.client.post("/users/eve", data={"role": "viewer", "action": "disable"})
        assert disabled.status_code == 200 and site.store.accounts.get_user(name="eve").disabled
        viewer = site.as_user("vic", "viewer")
        assert site.client.get("/users", headers=viewer).status_code == 403
        assert "/users" not in site.client.get("/", headers=viewer).text.split("<main")[0]  # no nav link


def test_a_page_form_in_another_encoding_is_refused_unread(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        response = site.client.post("/pilots/new", files={"file": ("x.zip", b"PK" + b"\0" * 1000)})
        assert response.status_code == 415 and "x-www-form-urlencoded" in response.json()["detail"]
        assert site.store.list_pilots(status=None, offset=0, limit=5)[1] == 0
