"""The pilots list's search and sort, and a pilot's notes and tags (issue 16), on SQLite and PostgreSQL."""

from __future__ import annotations

from backend.store import RunStatus
from tests.support.api import API, Api, create_pilot, finish, pilot_body


def _names(api: Api, **params: str) -> list[str]:
    response = api.client.get(f"{API}/pilots", params=params)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


def test_search_by_words_in_name_description_owner_and_tags(api_any: Api) -> None:
    api = api_any
    ana = api.as_user("ana")
    digits = api.client.post(f"{API}/pilots", json=_body("Digits 50% sweep", "first try"), headers=ana).json()
    create_pilot(api, name="cifar_small", description="the 100% run")
    create_pilot(api, name="mnist", description="with DropBlock")
    api.client.patch(f"{API}/pilots/{digits['pilot']['id']}", json={"tags": ["vision", "q3-review"]}, headers=ana)
    assert _names(api, q="digits") == ["Digits 50% sweep"]
    assert _names(api, q="DROPBLOCK") == ["mnist"]  # any case, the description too
    assert _names(api, q="ana") == ["Digits 50% sweep"]  # the owner
    assert _names(api, q="q3") == ["Digits 50% sweep"]  # a tag
    assert _names(api, q="vision sweep") == ["Digits 50% sweep"] and _names(api, q="vision mnist") == []
    # LIKE's wildcards are plain characters: "%" finds the two names with a percent sign, "_" only the one.
    assert sorted(_names(api, q="%")) == ["Digits 50% sweep", "cifar_small"]
    assert _names(api, q="_") == ["cifar_small"]
    assert api.client.get(f"{API}/pilots", params={"q": "sweep"}).json()["total"] == 1
    assert len(_names(api, q="   ")) == 3  # blank: everything


def _body(name: str, description: str) -> dict[str, object]:
    return pilot_body(name=name, description=description)


def test_sort_on_each_column_both_ways(api_any: Api) -> None:
    api = api_any
    for name, who in (("beta", "zoe"), ("Alpha", "bob"), ("gamma", "admin")):
        headers = api.as_user(who) if who != "admin" else {}
        assert api.client.post(f"{API}/pilots", json=_body(name, ""), headers=headers).status_code == 201
    assert _names(api) == ["gamma", "Alpha", "beta"]  # newest first, as before
    assert _names(api, sort="created") == ["beta", "Alpha", "gamma"]
    assert _names(api, sort="name") == ["Alpha", "beta", "gamma"]  # lowercased: the same on both databases
    assert _names(api, sort="-name") == ["gamma", "beta", "Alpha"]
    assert _names(api, sort="owner") == ["gamma", "Alpha", "beta"]
    assert _names(api, sort="-owner", status="queued") == ["beta", "Alpha", "gamma"]
    assert _names(api, sort="dataset") == ["gamma", "Alpha", "beta"]  # one dataset: newest first breaks ties


def test_bad_search_and_sort_are_422_naming_the_parameter(api: Api) -> None:
    bad = api.client.get(f"{API}/pilots", params={"sort": "id; drop table pilots"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "sort"
    assert "'name'" in bad.json()["errors"][0]["message"] and "'-model'" in bad.json()["errors"][0]["message"]
    long = api.client.get(f"{API}/pilots", params={"q": "x" * 101})
    assert long.status_code == 422 and long.json()["errors"][0]["field"] == "q"
    assert "100" in long.json()["errors"][0]["message"]
    nul = api.client.get(f"{API}/pilots", params={"q": "a\x00b"})
    assert nul.status_code == 422 and nul.json()["errors"][0]["field"] == "q"


def test_notes_and_tags_owner_admin_and_refusals(api_any: Api) -> None:
    api = api_any
    ana = api.as_user("ana")
    pilot = api.client.post(f"{API}/pilots", json=_body("ana's", ""), headers=ana).json()["pilot"]
    url = f"{API}/pilots/{pilot['id']}"
    assert pilot["notes"] == "" and pilot["tags"] == []
    version = api.store.versions.of(pilot_id=pilot["id"])
    changed = api.client.patch(
        url, json={"notes": "looks good ✓", "tags": ["Vision", "q3-review", "vision"]}, headers=ana
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["notes"] == "looks good ✓" and changed.json()["tags"] == ["vision", "q3-review"]
    after = api.store.versions.of(pilot_id=pilot["id"])
    assert version is not None and after is not None and after[0] == version[0] + 1  # caches re-read the pilot
    assert api.client.get(url).json()["tags"] == ["vision", "q3-review"]
    listed = api.client.get(f"{API}/pilots").json()["items"][0]
    assert (listed["notes"], listed["tags"]) == ("looks good ✓", ["vision", "q3-review"])
    # One of the two alone leaves the other; the admin may change anybody's.
    assert api.client.patch(url, json={"tags": []}).json() == {**api.client.get(url).json(), "tags": []}
    assert api.client.get(url).json()["notes"] == "looks good ✓"
    # Others are refused: another engineer, a viewer.
    bob = api.client.patch(url, json={"notes": "mine now"}, headers=api.as_user("bob"))
    assert bob.status_code == 403 and "belongs to 'ana'" in bob.json()["detail"]
    viewer = api.client.patch(url, json={"notes": "x"}, headers=api.as_user("vic", "viewer"))
    assert viewer.status_code == 403 and "manage_own_pilots" in viewer.json()["detail"]
    assert api.client.patch(f"{API}/pilots/999", json={"notes": ""}).status_code == 404


def test_notes_and_tags_validation(api: Api) -> None:
    pilot = create_pilot(api)
    url = f"{API}/pilots/{pilot['id']}"

    def refused(body: object) -> tuple[str, str]:
        response = api.client.patch(url, json=body)
        assert response.status_code == 422, response.text
        error = response.json()["errors"][0]
        return error["field"], error["message"]

    assert refused({}) == ("body", "send notes, tags or both (got {})")
    field, message = refused({"notes": "x" * 5001})
    assert field == "notes" and "5000" in message
    field, message = refused({"tags": ["ok", "not a slug!"]})
    assert field == "tags[1]" and "lowercase letters, digits or inner hyphens" in message and "not a slug!" in message
    assert refused({"tags": ["-edge"]})[0] == "tags[0]"
    assert refused({"tags": ["x" * 33]})[0] == "tags[0]"
    field, message = refused({"tags": [f"t{i}" for i in range(13)]})
    assert field == "tags" and "12" in message
    assert refused({"tags": "vision"})[0] == "tags"  # a list, not a string
    assert refused({"notes": "a\x00b"})[0] == "notes"
    assert refused({"name": "renamed"})[0] == "name"  # only notes and tags change here


def test_tags_go_with_their_pilot(api: Api) -> None:
    pilot = create_pilot(api)
    api.client.patch(f"{API}/pilots/{pilot['id']}", json={"tags": ["gone"]})
    for run in pilot["runs"]:
        finish(api.store, run["id"], RunStatus.SUCCEEDED)
    assert api.client.delete(f"{API}/pilots/{pilot['id']}").status_code == 204
    create_pilot(api, name="another")
    assert _names(api, q="gone") == []
