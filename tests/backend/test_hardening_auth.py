"""Issue 15, the holes an outside probe found: bodies read before the 401, password guessing through the
password change, tokens outliving resets, ownerless pilots, caching and what anonymous callers see.
Each test is named after what it prevents."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.auth.accounts import AccountError, issue_token
from backend.settings import Settings
from backend.store import Store
from tests.support.api import API, PASSWORD, Api, add_user, create_pilot, open_api
from tests.support.hostile import asgi_post, endless
from tests.support.site import open_site


@pytest.fixture
def api(sqlite_url: str) -> Iterator[Api]:
    with open_api(sqlite_url, login_max_failures=3, login_window_s=30.0) as opened:
        yield opened


def anonymous(api: Api) -> TestClient:
    return TestClient(api.client.app)


def session(api: Api, name: str, password: str = PASSWORD) -> tuple[TestClient, str]:
    client = anonymous(api)
    response = client.post(f"{API}/auth/login", json={"name": name, "password": password})
    assert response.status_code == 200, response.text
    return client, str(response.json()["csrf_token"])


# -- 2. credentials before bodies ----------------------------------------------------------------------


def test_anonymous_multipart_is_refused_before_reading_the_body(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))  # where a multipart upload would be spooled
    headers = {"Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(100 * 2**20)}
    status, body, pulled = asgi_post(api.client.app, f"{API}/datasets", headers, endless())
    assert status == 401 and pulled == 0 and "sign in first" in body["detail"]
    assert list(spool.iterdir()) == []
    # with a token the same request is read (and refused by the multipart parser, not by the gate)
    headers["Authorization"] = api.client.headers["authorization"]
    headers["Content-Length"] = str(2 * 2**20)
    status, _, pulled = asgi_post(api.client.app, f"{API}/datasets", headers, iter([b"--x\r\n" * 10]))
    assert status != 401 and pulled > 0


def test_anonymous_malformed_json_gets_401_not_a_422_describing_the_body(api: Api) -> None:
    for path in ("/pilots", "/users", "/auth/tokens", "/pilots/1/roi"):
        method = "PUT" if path.endswith("roi") else "POST"
        response = anonymous(api).request(
            method, f"{API}{path}", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 401, (path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
    # signing in is public: its malformed body is still a 422
    assert (
        anonymous(api)
        .post(f"{API}/auth/login", content=b"{nope", headers={"Content-Type": "application/json"})
        .status_code
        == 422
    )


def test_an_anonymous_page_form_post_goes_to_sign_in_without_being_read(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        browser = TestClient(site.client.app)
        response = browser.post("/pilots/new", data={"name": "x"}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
        assert browser.post("/login", data={"name": "x", "password": "y"}).status_code in (200, 401)


# -- 4. password changes ---------------------------------------------------------------------------------


def test_password_guessing_through_the_password_change_is_throttled(api: Api) -> None:
    add_user(api.store, "ana", "engineer")
    client, csrf = session(api, "ana")
    statuses = []
    for i in range(5):
        change = {"current_password": f"wrong guess {i}", "new_password": "a brand new secret"}
        statuses.append(client.put(f"{API}/auth/password", json=change, headers={"X-CSRF-Token": csrf}).status_code)
    assert statuses == [403, 403, 403, 429, 429]
    right = {"current_password": PASSWORD, "new_password": "a brand new secret"}
    paused = client.put(f"{API}/auth/password", json=right, headers={"X-CSRF-Token": csrf})
    assert paused.status_code == 429 and paused.headers["retry-after"]


def test_must_differ_is_only_answered_after_the_current_password_is_verified(api: Api) -> None:
    token = api.as_user("ana")
    wrong = api.client.put(
        f"{API}/auth/password",
        json={"current_password": "a guess at it", "new_password": "a guess at it"},
        headers=token,
    )
    assert wrong.status_code == 403 and "current password is wrong" in wrong.json()["detail"]
    same = api.client.put(
        f"{API}/auth/password", json={"current_password": PASSWORD, "new_password": PASSWORD}, headers=token
    )
    assert same.status_code == 422 and "must differ" in same.json()["detail"]


# -- 5. tokens follow the account ------------------------------------------------------------------------


def test_no_token_can_be_made_while_a_one_time_password_is_in_use(api: Api) -> None:
    one_time = api.client.post(f"{API}/users", json={"name": "ben", "role": "engineer"}).json()["one_time_password"]
    client, csrf = session(api, "ben", one_time)
    made = client.post(f"{API}/auth/tokens", json={"name": "sneaky"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 403 and "one-time password" in made.json()["detail"]
    with pytest.raises(AccountError, match="one-time password"):
        issue_token(api.store, user_name="ben", label="cli")


def test_an_admin_reset_revokes_tokens_so_they_do_not_work_again_after_the_new_password(api: Api) -> None:
    token = api.as_user("ana")
    assert api.client.get(f"{API}/pilots", headers=token).status_code == 200
    one_time = api.client.patch(f"{API}/users/ana", json={"reset_password": True}).json()["one_time_password"]
    assert api.client.get(f"{API}/auth/me", headers=token).status_code == 401
    client, csrf = session(api, "ana", one_time)
    change = {"current_password": one_time, "new_password": "my very own secret"}
    assert client.put(f"{API}/auth/password", json=change, headers={"X-CSRF-Token": csrf}).status_code == 200
    assert api.client.get(f"{API}/pilots", headers=token).status_code == 401


def test_a_disable_revokes_tokens_so_enabling_again_does_not_revive_them(api: Api) -> None:
    token = api.as_user("ana")
    api.client.patch(f"{API}/users/ana", json={"disabled": True})
    api.client.patch(f"{API}/users/ana", json={"disabled": False})
    assert api.client.get(f"{API}/pilots", headers=token).status_code == 401
    assert all(t["revoked_at"] for t in api.client.get(f"{API}/auth/tokens", params={"user": "ana"}).json()["tokens"])


def test_a_token_of_a_user_who_must_change_their_password_does_nothing(api: Api) -> None:
    token = api.as_user("ana")
    api.store.accounts.update_user(name="ana", must_change_password=True)  # a reset by the CLI, say
    for path in ("/pilots", "/auth/me"):
        assert api.client.get(f"{API}{path}", headers=token).status_code in (401, 403)


# -- 7. ownerless pilots -------------------------------------------------------------------------------


def test_an_ownerless_pilot_cannot_be_managed_by_any_engineer(api: Api) -> None:
    pilot = create_pilot(api)
    with api.store._sessions() as db, db.begin():  # a pilot from before ownership was recorded
        from backend.store.models import SqlPilot

        row = db.get(SqlPilot, pilot["id"])
        assert row is not None
        row.created_by = None
    refused = api.client.post(f"{API}/pilots/{pilot['id']}/cancel", headers=api.as_user("ana"))
    assert refused.status_code == 403 and "no recorded owner" in refused.json()["detail"]
    run_id = pilot["runs"][0]["id"]
    assert api.client.post(f"{API}/runs/{run_id}/cancel", headers=api.as_user("ana")).status_code == 403
    assert api.client.post(f"{API}/pilots/{pilot['id']}/cancel").status_code == 200  # the admin may


# -- 8. files, caching, health, server paths ---------------------------------------------------------------


def test_database_and_broker_files_are_not_world_readable(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path}/pilot.db", broker_url=f"sqla+sqlite:///{tmp_path}/broker.db"
        )
        store = Store(settings.database_url)
        store.upgrade()
        store.dispose()
    finally:
        os.umask(old)
    for name in ("pilot.db", "broker.db"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    for extra in tmp_path.glob("pilot.db-*"):  # SQLite's -wal and -shm follow the database's mode
        assert stat.S_IMODE(extra.stat().st_mode) & 0o077 == 0, extra


def test_account_answers_and_pages_with_a_csrf_token_are_not_cached(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        assert site.client.get(f"{API}/auth/me").headers["cache-control"] == "no-store"
        assert site.client.get(f"{API}/users").headers["cache-control"] == "no-store"
        add_user(site.store, "ana", "engineer")
        browser, _ = session(site, "ana")
        for page in ("/account", "/", "/pilots/new"):
            response = browser.get(page)
            assert response.status_code == 200 and response.headers["cache-control"] == "no-store", page
        assert TestClient(site.client.app).get("/login").headers["cache-control"] == "no-store"
        assert "cache-control" not in TestClient(site.client.app).get("/static/app.css").headers


def test_health_tells_anonymous_callers_the_status_and_nothing_about_the_database() -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    from backend.app import create_app
    from tests.support.api import RecordingQueue

    store = Store(url)
    app = create_app(Settings(database_url=url, broker_url="memory://"), store=store, queue=RecordingQueue())
    response = TestClient(app).get(f"{API}/health")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": None, "workers": None}
    store.dispose()


def test_server_paths_and_hosts_are_shown_to_admins_only(api: Api) -> None:
    api.store.worker_seen(name="w", host="gpu-box-7", device="cpu", queues=["cpu"], current_run_id=None)
    assert api.client.get(f"{API}/workers").json()["workers"][0]["host"] == "gpu-box-7"
    engineer = api.client.get(f"{API}/workers", headers=api.as_user("ana")).json()["workers"][0]
    assert engineer["host"] is None
    assert api.client.get(f"{API}/health", headers={"Authorization": ""}).json()["database"] is None
