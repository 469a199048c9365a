"""Hostile input on the pages: markup and exotic Unicode in every text field is escaped wherever it is shown
(and reads as typed), and absurd page numbers or ids are a 4xx or clamped, never a 5xx.

The site comes from ``tests.support.site.open_site`` (its client carries the admin's credentials).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.api import Api
from tests.support.hostile import (
    BASE_ARM,
    DESCRIPTION,
    NAME,
    OTHER_ARM,
    PROBE,
    QUOTES,
    RTL,
    SCRIPT,
    Page,
    assert_escaped,
    hostile_pilot,
)
from tests.support.site import open_site
from tests.support.uploads import make_zip, png

HUGE = str(10**30)


@pytest.fixture
def site(sqlite_url: str, tmp_path: Path) -> Iterator[Api]:
    with open_site(sqlite_url, data_root=tmp_path / "data") as site:
        yield site


def test_hostile_text_is_escaped_on_every_page(site: Api) -> None:
    pilot = hostile_pilot(site)
    base_run, other_run = (next(r for r in pilot["runs"] if r["arm"] == arm) for arm in (BASE_ARM, OTHER_ARM))
    pages = {
        "/": (NAME,),
        f"/pilots/{pilot['id']}": (NAME, DESCRIPTION, BASE_ARM, OTHER_ARM),
        f"/runs/{base_run['id']}": (BASE_ARM,),
        f"/runs/{other_run['id']}": (OTHER_ARM,),
        f"/pilots/{pilot['id']}/runs": (BASE_ARM, OTHER_ARM),
        f"/pilots/{pilot['id']}/comparison": (BASE_ARM, OTHER_ARM),
        f"/pilots/{pilot['id']}/verdict": (OTHER_ARM,),
    }
    for url, shown in pages.items():
        response = site.client.get(url)
        assert response.status_code == 200, (url, response.text[:500])
        assert_escaped(response.text, *shown)


def test_roi_input_echoed_in_its_error_is_escaped(site: Api) -> None:
    pilot = hostile_pilot(site)
    response = site.client.post(f"/pilots/{pilot['id']}/roi", data={"predictions_per_year": f"{SCRIPT}{PROBE}"})
    assert response.status_code == 200 and 'id="comparison"' in response.text
    assert_escaped(response.text, f"Input should be a valid number (got '{SCRIPT}{PROBE}')")


def test_a_refused_form_shows_the_typed_values_escaped(site: Api) -> None:
    form = {"name": NAME, "description": DESCRIPTION, "dataset": "digits", "arm": ["none"], "training.epochs": "0"}
    response = site.client.post("/pilots/new", data=form)
    assert response.status_code == 422, response.text[:500]
    page = assert_escaped(response.text)
    assert ("value", NAME) in page.attribute_values  # the name input keeps what was typed, as typed
    assert site.queue.sent == []


def test_a_hostile_dataset_and_class_names_are_escaped_in_the_upload_result(site: Api) -> None:
    classes = (PROBE, f"{RTL} 🐈")
    archive = make_zip({f"{label}/{index}.png": png() for label in classes for index in range(2)})
    response = site.client.post(
        "/pilots/new/upload",
        files={"file": ("pets.zip", archive, "application/zip")},
        data={"name": f"{SCRIPT} {QUOTES}"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200, response.text[:500]
    page = assert_escaped(response.text, *classes)
    assert "Uploaded 4 images in 2 classes" in page.visible
    listed = site.client.get("/api/v1/datasets").json()["items"]
    assert [d["name"] for d in listed] == [f"{SCRIPT} {QUOTES}"]
    assert sorted(listed[0]["classes"]) == sorted(classes)


@pytest.mark.parametrize("page", ["0", "-1", "-" + HUGE])
def test_page_numbers_below_one_are_clamped_to_the_first(site: Api, page: str) -> None:
    hostile_pilot(site)
    response = site.client.get("/", params={"page": page})
    assert response.status_code == 200, response.text[:500]
    assert NAME in Page(response.text).visible


@pytest.mark.parametrize("page", [HUGE, "999999999"])
def test_page_numbers_past_the_end_show_an_empty_page(site: Api, page: str) -> None:
    hostile_pilot(site)
    response = site.client.get("/", params={"page": page})
    assert response.status_code == 200, response.text[:500]
    assert "No pilots" in Page(response.text).visible


@pytest.mark.parametrize("page", ["abc", "1.5", "1e3", "", "NaN"])
def test_page_numbers_that_are_not_integers_are_a_clear_4xx(site: Api, page: str) -> None:
    response = site.client.get("/", params={"page": page})
    assert 400 <= response.status_code < 500, response.text[:500]
    assert "page" in response.text


@pytest.mark.parametrize(
    "url",
    [
        f"/pilots/{HUGE}",
        f"/pilots/{HUGE}/runs",
        f"/runs/{HUGE}",
        "/pilots/0",
        f"/pilots/{2**63}",
        "/runs/0",
    ],
)
def test_ids_out_of_range_on_pages_are_a_4xx(site: Api, url: str) -> None:
    response = site.client.get(url)
    assert 400 <= response.status_code < 500, (url, response.status_code, response.text[:300])
    assert site.client.get(url.replace(HUGE, "1")).status_code < 500


def test_the_comparison_fragment_says_why_for_an_id_out_of_range(site: Api) -> None:
    # A fragment that htmx swaps in: the API's message goes inside it, and the page around it stays.
    response = site.client.get(f"/pilots/{HUGE}/comparison")
    assert response.status_code == 200 and 'id="comparison"' in response.text
    assert "less than or equal to 9223372036854775807" in Page(response.text).visible
