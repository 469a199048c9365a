"""Every route of the app states its permission, and the app enforces it (issue 7 §1).

The walk covers every operation of the OpenAPI document and every page route (from the frontend's
routers), with the credentials of nobody, a viewer, an engineer who does not own the pilot, the owner and
an admin. It fails when a route is added without a permission or with the wrong one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from backend.auth.guard import route_permissions
from backend.auth.roles import Permission
from frontend import pages
from tests.support.api import API, Api, create_pilot, pilot_body
from tests.support.site import open_site
from tests.support.uploads import good_entries, make_zip

MUTATIONS = {"post", "put", "patch", "delete"}
# Changes a viewer may make, by the issue: ROI inputs and decisions (the manager's), their own account and session.
VIEWER_MAY = {Permission.PUBLIC, Permission.SIGNED_IN, Permission.EDIT_ROI, Permission.DECIDE}
# Page routes that change nothing a viewer may not change (each named with why), or that are public.
PAGES_VIEWER_MAY = {
    ("POST", "/login"),  # public: signing in
    ("POST", "/logout"),  # one's own session
    ("POST", "/account/password"),  # one's own password
    ("POST", "/account/tokens"),  # one's own tokens
    ("POST", "/account/tokens/{token_id:int}/revoke"),
    ("POST", "/pilots/{pilot_id:int}/roi"),  # the manager edits ROI inputs
    ("POST", "/pilots/{pilot_id:int}/decision"),  # the manager records a decision
    ("POST", "/pilots/new/estimate"),  # a dry run: validates and estimates, queues nothing
}
PUBLIC_PAGES = {("GET", "/login"), ("POST", "/login")}


@dataclass
class World:
    api: Api
    anonymous: TestClient
    owner: dict[str, str]
    other: dict[str, str]
    viewer: dict[str, str]
    pilot_id: int
    run_id: int
    token_id: int
    decision_id: int
    folder: str

    def values(self) -> dict[str, Any]:
        return {
            "pilot_id": self.pilot_id,
            "run_id": self.run_id,
            "token_id": self.token_id,
            "decision_id": self.decision_id,
            "folder": self.folder,
            "name": "owner",
            "fmt": "csv",
        }


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    with open_site(sqlite_url, data_root=tmp_path / "data") as site:
        owner, other, viewer = site.as_user("owner"), site.as_user("other"), site.as_user("vera", "viewer")
        response = site.client.post(f"{API}/pilots", json=pilot_body(name="owner's"), headers=owner)
        assert response.status_code == 201, response.text
        pilot = response.json()["pilot"]
        token = site.client.post(f"{API}/auth/tokens", json={"name": "walk"}, headers=owner).json()
        decision = site.client.post(f"{API}/pilots/{pilot['id']}/decision", json={"decision": "defer", "arm": "none"})
        zipped = {"file": ("pets.zip", make_zip(good_entries()), "application/zip")}
        dataset = site.client.post(f"{API}/datasets", files=zipped, headers=owner).json()
        yield World(
            api=site,
            anonymous=TestClient(site.client.app),  # no credentials at all
            owner=owner,
            other=other,
            viewer=viewer,
            pilot_id=pilot["id"],
            run_id=pilot["runs"][0]["id"],
            token_id=token["id"],
            decision_id=decision.json()["id"],
            folder=dataset["folder"],
        )


def operations(world: World) -> list[tuple[str, str, Permission]]:
    schema = world.api.client.get(f"{API}/openapi.json").json()
    found = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            assert "x-permission" in operation, f"{method.upper()} {path} states no permission"
            found.append((method, path, Permission(operation["x-permission"])))
    return found


def fill(path: str, world: World) -> str:
    for key, value in world.values().items():
        path = path.replace(f"{{{key}}}", str(value)).replace(f"{{{key}:int}}", str(value))
    return path.replace("{name}", "roi")  # the one other parameter: a figure's name


def call(client: TestClient, method: str, url: str, headers: dict[str, str] | None = None) -> Any:
    body = {} if method in MUTATIONS - {"delete"} else None
    return client.request(method.upper(), url, json=body, headers=headers or {}, follow_redirects=False)


def test_the_api_routes_state_permissions_and_enforce_them(world: World) -> None:
    ops = operations(world)
    assert len(ops) >= 30
    public = sorted(f"{m.upper()} {p}" for m, p, perm in ops if perm is Permission.PUBLIC)
    assert public == ["GET /api/v1/health", "POST /api/v1/auth/login"]
    checked = {"anonymous": 0, "viewer": 0, "other engineer": 0, "engineer may not decide": 0}
    for method, path, permission in ops:
        url = fill(path, world)
        response = call(world.anonymous, method, url)
        if permission is Permission.PUBLIC:
            assert response.status_code not in (401, 403), (method, path, response.text)
            continue
        assert response.status_code == 401, (method, path, response.status_code, response.text)
        assert response.headers["www-authenticate"] == "Bearer" and "sign in" in response.json()["detail"]
        checked["anonymous"] += 1
        if method in MUTATIONS and permission not in VIEWER_MAY:
            response = call(world.api.client, method, url, world.viewer)
            assert response.status_code == 403, (method, path, response.status_code, response.text)
            assert "vera" in response.json()["detail"] and "viewer" in response.json()["detail"]
            checked["viewer"] += 1
        elif method == "get":
            response = call(world.api.client, method, url, world.viewer)
            expected_403 = permission is Permission.ADMIN
            assert (response.status_code == 403) == expected_403, (method, path, response.status_code)
        if permission is Permission.MANAGE_OWN_PILOTS:
            response = call(world.api.client, method, url, world.other)
            assert response.status_code == 403 and "belongs to 'owner'" in response.json()["detail"], (method, path)
            checked["other engineer"] += 1
        if permission is Permission.DECIDE:  # managers and admins sign off, not whoever ran the pilot
            for engineer in (world.owner, world.other):
                response = call(world.api.client, method, url, engineer)
                assert response.status_code == 403 and "decide permission" in response.json()["detail"], (method, path)
            checked["engineer may not decide"] += 1
    assert checked["viewer"] >= 8 and checked["other engineer"] == 6, checked  # PATCH /pilots/{id}: the sixth
    assert checked["engineer may not decide"] == 1, checked


def test_owners_and_admins_may_manage_a_pilot_others_may_not(world: World) -> None:
    client, pilot, run = world.api.client, world.pilot_id, world.run_id
    assert client.post(f"{API}/runs/{run}/cancel", headers=world.other).status_code == 403
    assert client.post(f"{API}/runs/{run}/cancel", headers=world.owner).status_code == 200
    assert client.post(f"{API}/runs/{run}/retry", headers=world.other).status_code == 403
    assert client.post(f"{API}/runs/{run}/retry", headers=world.owner).status_code == 200
    assert client.post(f"{API}/pilots/{pilot}/cancel", headers=world.other).status_code == 403
    assert client.post(f"{API}/pilots/{pilot}/cancel").status_code == 200  # the admin
    assert client.post(f"{API}/pilots/{pilot}/extend", json={"seeds": 1}, headers=world.other).status_code == 403
    assert client.post(f"{API}/pilots/{pilot}/extend", json={"seeds": 1}, headers=world.viewer).status_code == 403
    assert client.post(f"{API}/pilots/{pilot}/extend", json={"seeds": 1}, headers=world.owner).status_code == 201
    assert client.post(f"{API}/pilots/{pilot}/cancel", headers=world.owner).status_code == 200
    assert client.delete(f"{API}/pilots/{pilot}", headers=world.other).status_code == 403
    assert client.delete(f"{API}/pilots/{pilot}", headers=world.viewer).status_code == 403
    assert client.delete(f"{API}/pilots/{pilot}", headers=world.owner).status_code == 204
    # Another engineer's own pilot is theirs to manage.
    mine = create_pilot(world.api)
    assert client.post(f"{API}/pilots/{mine['id']}/cancel", headers=world.other).status_code == 403
    theirs = client.post(f"{API}/pilots", json=pilot_body(), headers=world.other).json()["pilot"]
    assert client.post(f"{API}/pilots/{theirs['id']}/cancel", headers=world.other).status_code == 200
    # A viewer reads, edits ROI inputs and exports, and changes nothing else.
    assert client.get(f"{API}/pilots/{mine['id']}", headers=world.viewer).status_code == 200
    roi = client.put(f"{API}/pilots/{mine['id']}/roi", json={"cost_per_error": 2.0}, headers=world.viewer)
    assert roi.status_code == 200, roi.text
    assert client.get(f"{API}/pilots/{mine['id']}/report.csv", headers=world.viewer).status_code == 200
    # An unknown ROI field lists the ROI inputs (not the pilot's fields).
    typo = client.put(f"{API}/pilots/{mine['id']}/roi", json={"cost_per_eror": 1.0}, headers=world.viewer)
    assert typo.status_code == 422 and "allowed: predictions_per_year, cost_per_error" in typo.json()["detail"]


def test_a_dataset_is_deleted_by_its_uploader_or_an_admin_only(world: World) -> None:
    client, url = world.api.client, f"{API}/datasets/{world.folder}"
    assert client.delete(url, headers=world.other).status_code == 403
    assert client.delete(url, headers=world.viewer).status_code == 403
    listed = client.get(f"{API}/datasets", headers=world.other).json()["items"]
    assert [(d["owner"], d["path"]) for d in listed] == [("owner", f"uploads/{world.folder}")]
    assert client.get(f"{API}/datasets").json()["items"][0]["path"].startswith("/")  # the admin sees where
    assert client.delete(url, headers=world.owner).status_code == 204


def test_an_ownerless_pilot_is_managed_by_admins_only(world: World) -> None:
    from backend.store.models import SqlPilot

    with world.api.store._sessions() as db, db.begin():
        row = db.get(SqlPilot, world.pilot_id)
        assert row is not None
        row.created_by = None
    for headers in (world.owner, world.other):
        refused = world.api.client.post(f"{API}/pilots/{world.pilot_id}/cancel", headers=headers)
        assert refused.status_code == 403 and "no recorded owner" in refused.json()["detail"]
    assert world.api.client.post(f"{API}/pilots/{world.pilot_id}/cancel").status_code == 200


def page_routes() -> list[tuple[str, str, bool]]:
    """(method, path, public) of every page route."""
    found = []
    routers = [(router, True) for router in pages.PUBLIC] + [(router, False) for router in pages.SIGNED_IN]
    for router, public in routers:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in sorted(route.methods):
                found.append((method, route.path, public))
    return found


def test_every_page_needs_a_sign_in_and_viewers_change_nothing(world: World) -> None:
    routes = page_routes()
    assert len(routes) >= 20
    assert {(m, p) for m, p, public in routes if public} == PUBLIC_PAGES
    for method, path, public in routes:
        url = fill(path, world)
        if public:
            continue
        response = world.anonymous.request(method, url, follow_redirects=False)
        assert response.status_code == 303, (method, path, response.status_code)
        assert response.headers["location"].startswith("/login"), (method, path)
        htmx = world.anonymous.request(method, url, headers={"HX-Request": "true"}, follow_redirects=False)
        assert htmx.status_code == 401 and htmx.headers["hx-redirect"].startswith("/login"), (method, path)
        if method == "POST" and (method, path) not in PAGES_VIEWER_MAY:
            before = world.api.store.list_pilots(status=None, offset=0, limit=10)[1]
            response = world.api.client.request(method, url, headers=world.viewer, follow_redirects=False)
            assert response.status_code == 403, (method, path, response.status_code, response.text[:300])
            assert world.api.store.list_pilots(status=None, offset=0, limit=10)[1] == before
    # The page a user wanted is where signing in leads back to.
    response = world.anonymous.get(f"/pilots/{world.pilot_id}?tab=x", follow_redirects=False)
    assert response.headers["location"] == f"/login?next=/pilots/{world.pilot_id}%3Ftab%3Dx"


def test_routes_without_a_permission_cannot_be_built() -> None:
    from fastapi import APIRouter

    from backend.app import state_permissions

    router = APIRouter()

    @router.get("/open")
    def open_route() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match="states 0 permissions"):
        state_permissions(router)
    for route in router.routes:
        assert isinstance(route, APIRoute) and route_permissions(route.dependant) == []
