"""Hostile and broken input to the API: oversized bodies, wrong content types, undecodable bodies, absurd
pagination, and markup or exotic Unicode in every text field (escaped in the HTML report, intact in the PDF).

The pages get the same treatment in ``tests/frontend/test_hostile_pages.py``.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.limits import MAX_BODY_BYTES, MULTIPART_SLACK
from tests.support.api import API, Api, create_pilot, open_api, pilot_body
from tests.support.hostile import (
    BASE_ARM,
    DESCRIPTION,
    EMOJI,
    NAME,
    OTHER_ARM,
    PROBE,
    RTL,
    SCRIPT,
    asgi_post,
    assert_escaped,
    endless,
    hostile_pilot,
)


@pytest.fixture
def api(sqlite_url: str, tmp_path: Path) -> Iterator[Api]:
    with open_api(sqlite_url, data_root=tmp_path / "data") as api:
        yield api


# --- Oversized bodies and wrong content types -------------------------------------------------------------


def test_a_declared_length_over_the_cap_is_413_naming_the_cap(api: Api) -> None:
    body = json.dumps(pilot_body(description="x" * 10)).encode()
    padded = body[:-1] + b" " * (MAX_BODY_BYTES + 1 - len(body)) + b"}"  # valid JSON, one byte over
    response = api.client.post(f"{API}/pilots", content=padded, headers={"Content-Type": "application/json"})
    assert response.status_code == 413, response.text
    detail = response.json()["detail"]
    assert f"is {MAX_BODY_BYTES + 1:,} bytes" in detail and "the limit is 1 MiB (1,048,576 bytes)" in detail
    assert response.json()["errors"] == [{"field": "body", "message": detail}]
    assert api.client.get(f"{API}/pilots").json()["total"] == 0


def test_a_body_at_the_cap_is_read(api: Api) -> None:
    body = json.dumps(pilot_body(dry_run=True)).encode()
    padded = body[:-1] + b" " * (MAX_BODY_BYTES - len(body)) + b"}"
    response = api.client.post(f"{API}/pilots", content=padded, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text


def test_a_chunked_body_over_the_cap_is_413(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    # A generator is sent chunked: no Content-Length, so only counting the bytes can catch it.
    response = api.client.put(f"{API}/pilots/1/roi", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413, response.text
    assert "goes on past the limit; the limit is 1 MiB" in response.json()["detail"]


def test_an_endless_body_is_cut_off_at_the_cap_not_read_to_the_end(api: Api) -> None:
    headers = {"Content-Type": "application/json", "Authorization": api.client.headers["authorization"]}
    status, body, pulled = asgi_post(api.client.app, f"{API}/pilots", headers, endless())
    assert status == 413 and "the limit is 1 MiB" in body["detail"]
    assert pulled == MAX_BODY_BYTES // 65536 + 1  # the chunk that crossed the cap, and not one more


def test_a_declared_length_over_the_cap_is_refused_without_reading_a_byte(api: Api) -> None:
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(50 * 2**30),
        "Authorization": api.client.headers["authorization"],  # anonymous, it would be a 401 (CredentialsFirst)
    }
    status, body, pulled = asgi_post(api.client.app, f"{API}/pilots", headers, endless())
    assert status == 413 and pulled == 0
    assert body["detail"] == f"the request body is {50 * 2**30:,} bytes; the limit is 1 MiB (1,048,576 bytes)"


def test_a_non_json_content_type_is_refused_on_its_first_chunk(api: Api) -> None:
    headers = {"Content-Type": "text/plain", "Authorization": api.client.headers["authorization"]}
    status, body, pulled = asgi_post(api.client.app, f"{API}/pilots", headers, endless())
    assert status == 415 and pulled == 1 and body["detail"].startswith("send application/json")


def test_uploads_keep_their_own_larger_cap(tmp_path: Path, sqlite_url: str) -> None:
    with open_api(sqlite_url, data_root=tmp_path / "data", upload_max_bytes=3 * 2**20) as api:
        # Two MiB: over the JSON cap, under the upload cap; the upload route's own check answers (not a zip).
        files = {"file": ("big.zip", b"\0" * (2 * 2**20), "application/zip")}
        response = api.client.post(f"{API}/datasets", files=files, data={"name": "big"})
        assert response.status_code == 415 and "not a zip" in response.json()["detail"], response.text
        # Past the upload cap (within the slack) the route refuses by the declared length, with its own message.
        files = {"file": ("big.zip", b"\0" * (3 * 2**20 + 2**19), "application/zip")}
        response = api.client.post(f"{API}/datasets", files=files, data={"name": "big"})
        assert response.status_code == 413 and "the limit is 3,145,728" in response.json()["detail"]
        # Streamed without a length, the middleware stops it past the cap and the multipart slack.
        headers = {
            "Content-Type": "multipart/form-data; boundary=x",
            "Authorization": api.client.headers["authorization"],
        }
        part = b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.zip"\r\n\r\n'
        chunks = itertools.chain([part], (b"\0" * 2**20 for _ in itertools.count()))
        status, body, pulled = asgi_post(api.client.app, f"{API}/datasets", headers, chunks)
        assert status == 413 and pulled == (3 * 2**20 + MULTIPART_SLACK) // 2**20 + 1, body


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("text/plain", json.dumps(pilot_body(dry_run=True))),
        ("text/plain; charset=utf-8", json.dumps(pilot_body(dry_run=True))),
        ("application/x-www-form-urlencoded", "name=x&dataset=digits"),
        ("multipart/form-data; boundary=b", '--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--b--\r\n'),
        ("application/xml", "<pilot/>"),
        (None, json.dumps(pilot_body(dry_run=True))),
    ],
)
def test_json_routes_refuse_other_content_types_with_415(api: Api, content_type: str | None, content: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = api.client.post(f"{API}/pilots", content=content.encode(), headers=headers)
    assert response.status_code == 415, response.text
    detail = response.json()["detail"]
    assert detail.startswith("send application/json: this route takes a JSON body")
    assert (repr(content_type) if content_type else "no Content-Type") in detail
    assert api.queue.sent == []


def test_415_on_every_json_route_and_json_variants_accepted(api: Api) -> None:
    pilot = create_pilot(api)
    for method, path in [
        ("PUT", f"/pilots/{pilot['id']}/roi"),
        ("POST", "/auth/tokens"),
        ("POST", "/users"),
        ("PATCH", "/users/admin"),
        ("POST", "/auth/login"),
    ]:
        response = api.client.request(method, f"{API}{path}", data={"name": "x"})  # a form, as curl -d sends
        assert response.status_code == 415, (method, path, response.text)
    for content_type in ("application/json; charset=utf-8", "application/vnd.rblock+json", "APPLICATION/JSON"):
        body = json.dumps(pilot_body(dry_run=True)).encode()
        response = api.client.post(f"{API}/pilots", content=body, headers={"Content-Type": content_type})
        assert response.status_code == 200, (content_type, response.text)
    # Routes without a body ignore one, whatever its type; an empty body is "required", not a wrong type.
    no_body = api.client.post(
        f"{API}/pilots/{pilot['id']}/cancel", content=b"hello", headers={"Content-Type": "text/plain"}
    )
    assert no_body.status_code == 200, no_body.text
    empty = api.client.post(f"{API}/pilots", content=b"", headers={"Content-Type": "text/plain"})
    assert empty.status_code == 422 and "body: is required" in empty.json()["detail"]


# --- Bodies that cannot be decoded (found by the fuzz test) -----------------------------------------------


def test_json_that_is_not_utf8_is_a_422_not_a_bare_400(api: Api) -> None:
    response = api.client.post(
        f"{API}/pilots", content=b'{"name": "\xff\xfe"}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"field": "body", "message": "is not valid JSON: not UTF-8 (invalid start byte at byte 10)"}
    ]
    response = api.client.put(f"{API}/pilots/1/roi", content=b"\x80", headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and "not UTF-8" in response.json()["detail"]


def test_a_broken_multipart_body_is_a_422_not_a_bare_400(api: Api) -> None:
    response = api.client.post(
        f"{API}/datasets",
        content=b"--b\r\nFalse--b--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("body: is not valid multipart/form-data")


def test_downloads_and_error_statuses_are_documented(api: Api) -> None:
    paths = api.client.get(f"{API}/openapi.json").json()["paths"]
    assert "text/csv" in paths[f"{API}/pilots/{{pilot_id}}/epochs.csv"]["get"]["responses"]["200"]["content"]
    report = paths[f"{API}/pilots/{{pilot_id}}/report.{{fmt}}"]["get"]["responses"]["200"]["content"]
    assert {"application/pdf", "text/html", "text/csv", "application/json"} <= set(report)
    for path, operations in paths.items():
        for method, operation in operations.items():
            documented = set(operation["responses"])
            if operation.get("x-permission") != "public":
                assert {"401", "403"} <= documented, (method, path)
            if "requestBody" in operation and "application/json" in operation["requestBody"]["content"]:
                assert {"413", "415", "422"} <= documented, (method, path)
            for status in documented - {"200", "201", "204"}:
                content = operation["responses"][status].get("content", {}).get("application/json", {})
                assert content, (method, path, status)


# --- Huge, negative and non-numeric pagination ------------------------------------------------------------

HUGE = str(10**30)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": HUGE}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"limit": "1e3"}, "limit"),
        ({"limit": ""}, "limit"),
        ({"limit": "NaN"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": str(10**9 + 1)}, "offset"),
        ({"offset": HUGE}, "offset"),
        ({"offset": "-" + HUGE}, "offset"),
        ({"offset": "ten"}, "offset"),
        ({"status": "<script>"}, "status"),
    ],
)
def test_pilot_list_pagination_out_of_range_is_a_422_naming_the_field(
    api: Api, query: dict[str, str], field: str
) -> None:
    response = api.client.get(f"{API}/pilots", params=query)
    assert response.status_code == 422, response.text
    body = response.json()
    assert [error["field"] for error in body["errors"]] == [field] and body["detail"].startswith(f"{field}: ")


def test_pilot_list_pagination_at_its_bounds(api: Api) -> None:
    create_pilot(api)
    far = api.client.get(f"{API}/pilots", params={"offset": str(10**9), "limit": "200"})
    assert far.status_code == 200 and far.json() == {"items": [], "total": 1, "offset": 10**9, "limit": 200}
    assert api.client.get(f"{API}/pilots", params={"offset": "0", "limit": "1"}).json()["total"] == 1


@pytest.mark.parametrize("value", ["0", "1", "-5", HUGE, "abc", "2.5", ""])
def test_metric_downsampling_out_of_range_is_a_422(api: Api, value: str) -> None:
    pilot = create_pilot(api)
    for path in (f"/pilots/{pilot['id']}/metrics", f"/runs/{pilot['runs'][0]['id']}/metrics"):
        response = api.client.get(f"{API}{path}", params={"max_points": value})
        assert response.status_code == 422, (path, response.text)
        assert response.json()["errors"][0]["field"] == "max_points"


@pytest.mark.parametrize("value", ["0", "-1", HUGE, str(2**63), "abc", "1.5"])
def test_ids_out_of_range_are_a_422(api: Api, value: str) -> None:
    for path in (f"/pilots/{value}", f"/pilots/{value}/summary", f"/runs/{value}", f"/pilots/{value}/metrics"):
        response = api.client.get(f"{API}{path}")
        assert response.status_code == 422, (path, response.text)


def test_list_routes_without_pagination_ignore_it(api: Api) -> None:
    junk = {"limit": HUGE, "offset": "-1", "page": "abc"}
    for path in ("/datasets", "/workers", "/users", "/auth/tokens", "/catalog/datasets"):
        response = api.client.get(f"{API}{path}", params=junk)
        assert response.status_code == 200, (path, response.text)


# --- Markup and exotic Unicode in every text field: JSON, HTML report, PDF report --------------------------


def test_hostile_text_round_trips_through_the_json_api(api: Api) -> None:
    pilot = hostile_pilot(api)
    detail = api.client.get(f"{API}/pilots/{pilot['id']}").json()
    assert detail["name"] == NAME and detail["description"] == DESCRIPTION
    assert [arm["name"] for arm in detail["arms"]] == [BASE_ARM, OTHER_ARM] and detail["baseline_arm"] == BASE_ARM
    summary = api.client.get(f"{API}/pilots/{pilot['id']}/summary").json()
    assert {arm["arm"] for arm in summary["arms"]} == {BASE_ARM, OTHER_ARM}
    rows = api.client.get(f"{API}/pilots/{pilot['id']}/report.csv").text
    assert OTHER_ARM.replace('"', '""') in rows  # CSV quotes a quote by doubling it


def test_hostile_text_is_escaped_in_the_html_report(api: Api) -> None:
    pilot = hostile_pilot(api)
    response = api.client.get(f"{API}/pilots/{pilot['id']}/report.html")
    assert response.status_code == 200
    page = assert_escaped(response.text, NAME, BASE_ARM, OTHER_ARM)  # the report has no description
    # The charts' JSON sits in script elements: it may hold the labels, but never a closing tag.
    assert all("</script" not in script.lower() for script in page.scripts)


def pdf_text(pdf: bytes, folder: Path) -> str:
    """The PDF's text as pdftotext reads it, in one line, NFC, without the bidi marks it adds around RTL runs."""
    path = folder / "report.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf" or ch == "\u200d")
    return " ".join(unicodedata.normalize("NFC", text).split())


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler's pdftotext")
@pytest.mark.timeout(300)
def test_hostile_text_reads_as_typed_in_the_pdf_report(api: Api, tmp_path: Path) -> None:
    pilot = hostile_pilot(api)
    response = api.client.get(f"{API}/pilots/{pilot['id']}/report.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    text = pdf_text(response.content, tmp_path)
    # Markup shows as the characters typed (escaped, not interpreted); RTL words, emoji and the combined
    # letters come out intact (pdftotext lays RTL runs out visually, so words are checked one by one).
    for expected in (SCRIPT, PROBE, '"quotes\' & ampersands"', *RTL.split(), *EMOJI, "é", "ñ", "ä"):
        assert expected in text, (expected, text[:2000])
    assert f"{SCRIPT}\"q' & é ñ ä" in text  # the second arm's label, as one piece
