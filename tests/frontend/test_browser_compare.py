"""Issue 16 in Chromium: tick two pilots on the list, press Compare, and see both pilots side by side with the
accuracy/cost chart; the form says what to do with fewer than two ticked; at 390 px nothing runs off the
screen (the wide table scrolls inside its .table-wrap). Writes docs/screenshots/compare.png (desktop),
compare_phone.png (390 px) and compare_dark.png (dark colour scheme)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from backend.store import RunStatus
from tests.support.api import pilot_body, start
from tests.support.browser import ENGINEER, Console, Site, add_session, path_of, wait_for_chart_points
from tests.support.chromium import CHROMIUM

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# Yearly value of the accuracy: enough for a verdict on each pilot (adopt on one, reject on the other).
# Seed-to-seed differences of the accuracy, by run (not one shift for every arm, so that intervals have width).
SPREAD = (0.004, -0.003, 0.0, -0.002, 0.005, -0.001, 0.002)
ROI = {"predictions_per_year": 2e6, "cost_per_error": 0.05, "retrains_per_year": 12}


def _pilot(site: Site, name: str, arms: list[dict[str, Any]], accuracy: dict[str, float], hours: dict[str, float],
           roi: dict[str, float]) -> dict[str, Any]:  # fmt: skip
    """A finished pilot of three seeds per arm: each arm near its ``accuracy`` (a seed-to-seed spread), taking
    ``hours`` per run, with ROI inputs ``roi``."""
    created = site.api("POST", "/pilots", json=pilot_body(name=name, arms=arms, seeds=3))
    assert created.status_code == 201, created.text
    pilot: dict[str, Any] = created.json()["pilot"]
    for index, run in enumerate(pilot["runs"]):
        start(site.store, run["id"])
        cost = {"device_hours": hours[run["arm"]], "device_kind": "cpu", "device_name": "cpu",
                "samples_per_second": 900.0}  # fmt: skip
        final = {"test_acc": accuracy[run["arm"]] + SPREAD[index % len(SPREAD)], "ece": 0.03, "flip_rate": 0.02,
                 "inconsistency_kl": 0.015}  # fmt: skip
        # Each seed answers a few of 40 examples its own way: some seed churn (about a tenth).
        answers = [(i + (i % (run["seed"] + 13) == 0)) % 10 for i in range(40)]
        site.store.finish_run(run_id=run["id"], status=RunStatus.SUCCEEDED, error=None, cost=cost, final_metrics=final,
                              predictions=answers)  # fmt: skip
    assert site.api("PUT", f"/pilots/{pilot['id']}/roi", json=roi).status_code == 200
    return pilot


def _pilots(site: Site) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    none, rblock = {"regularizer": "none"}, {"regularizer": "rblock_s", "params": {"drop_prob": 0.2}}
    dropout = {"regularizer": "dropout", "params": {"drop_prob": 0.1}}
    first = _pilot(site, "digits: R-Block vs none", [none, rblock], {"none": 0.90, "rblock_s": 0.95},
                   {"none": 1.0, "rblock_s": 1.2}, ROI)  # fmt: skip
    second = _pilot(site, "digits: dropout and R-Block, long training", [none, dropout, rblock],
                    {"none": 0.91, "dropout": 0.905, "rblock_s": 0.912}, {"none": 2.0, "dropout": 2.1, "rblock_s": 9.0},
                    {**ROI, "predictions_per_year": 1e4})  # fmt: skip
    third = _pilot(site, "not ticked", [none, rblock], {"none": 0.8, "rblock_s": 0.8}, {"none": 1, "rblock_s": 1}, ROI)
    return first, second, third


def _right_edges(page: Any) -> dict[str, float]:
    """How far right the page's parts reach, in CSS pixels (the table's own width may exceed its wrapper's)."""
    boxes: dict[str, float] = {}
    for name, selector in (("chart", "#compare-chart"), ("table wrapper", ".table-wrap"), ("main", "main")):
        box = page.locator(selector).first.bounding_box()
        assert box is not None, selector
        boxes[name] = box["x"] + box["width"]
    boxes["document"] = page.evaluate("document.documentElement.scrollWidth")
    return boxes


def _signed_in(chromium_browser: Any, site: Site, console: Console, **options: Any) -> tuple[Any, Any]:
    """A browser context of the engineer's (``options``: its viewport, colour scheme) and a watched tab in it."""
    context = chromium_browser.new_context(viewport=DESKTOP, **options)
    add_session(context, site.url, ENGINEER)
    return context, console.watch(context.new_page())


def test_tick_two_pilots_and_compare(site: Site, chromium_browser: Any) -> None:
    first, second, third = _pilots(site)
    console = Console()
    context, page = _signed_in(chromium_browser, site, console)
    page.goto(f"{site.url}/")

    hint = page.locator("#compare-hint")
    compare = page.locator("#compare-form").get_by_role("button", name="Compare")
    compare.click()  # nothing ticked: the form says what to do, and stays
    expect(hint).to_contain_text("Tick at least 2 pilots")
    page.locator(f"#pick-{first['id']}").check()
    compare.click()
    expect(hint).to_contain_text("1 ticked: tick at least 2")
    assert path_of(page.url) == "/"
    page.locator(f"#pick-{second['id']}").check()
    expect(hint).to_contain_text("2 pilots ticked")
    compare.click()
    page.wait_for_url(re.compile(r"/compare\?"))
    # One pilots field per ticked box, in the list's order (newest first).
    assert path_of(page.url) == f"/compare?pilots={second['id']}&pilots={first['id']}", page.url

    table = page.locator("table.compare")
    for pilot in (first, second):
        group = table.locator(f"tbody[data-pilot='{pilot['id']}']")
        expect(group.get_by_role("link", name=pilot["name"])).to_have_attribute("href", f"/pilots/{pilot['id']}")
    assert table.locator(f"tbody[data-pilot='{third['id']}']").count() == 0
    expect(page.locator(f"[data-verdict='{first['id']}:rblock_s']")).to_have_text("adopt")
    expect(page.locator(f"[data-verdict='{second['id']}:rblock_s']")).to_have_text("reject")
    # A point per pilot and arm: 2 + 3.
    assert wait_for_chart_points(page, "compare-chart", more_than=0) == 5
    legend = page.locator("#compare-chart .legend").text_content() or ""
    assert f"#{first['id']} digits: R-Block vs none" in legend and "rblock_s" in legend, legend
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "compare.png"), full_page=True)

    # A link back to each pilot works.
    table.get_by_role("link", name=first["name"]).click()
    page.wait_for_url(f"{site.url}/pilots/{first['id']}")
    compare_url = f"{site.url}/compare?pilots={first['id']},{second['id']}"

    phone = console.watch(context.new_page())
    phone.set_viewport_size(PHONE)
    phone.goto(compare_url)
    assert wait_for_chart_points(phone, "compare-chart", more_than=0) == 5
    edges = _right_edges(phone)
    assert all(edge <= PHONE["width"] for edge in edges.values()), edges
    # The table is wider than the phone: it scrolls inside its wrapper rather than widening the page.
    wrap = phone.locator(".table-wrap").first
    assert wrap.evaluate("el => el.scrollWidth > el.clientWidth"), "the table fits at 390 px: nothing to check"
    phone.screenshot(path=str(SHOTS / "compare_phone.png"), full_page=True)

    dark_context, dark = _signed_in(chromium_browser, site, console, color_scheme="dark")
    dark.goto(compare_url)
    assert wait_for_chart_points(dark, "compare-chart", more_than=0) == 5
    background = dark.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 21, 27)", background  # the dark palette of app.css
    dark.screenshot(path=str(SHOTS / "compare_dark.png"), full_page=True)

    assert console.errors() == [] and console.csp_violations() == [], console.messages
    dark_context.close()
    context.close()


def test_compare_page_says_what_is_wrong_in_words(site: Site, chromium_browser: Any) -> None:
    first = _pilot(site, "alone", [{"regularizer": "none"}], {"none": 0.9}, {"none": 1.0}, ROI)
    console = Console()
    context, page = _signed_in(chromium_browser, site, console)
    response = page.goto(f"{site.url}/compare?pilots={first['id']}")
    assert response is not None and response.status == 422
    expect(page.get_by_role("alert")).to_have_text("only 1 pilot named: tick or name at least 2 to compare them")
    expect(page.get_by_role("link", name="the pilots list")).to_have_attribute("href", "/")
    response = page.goto(f"{site.url}/compare?pilots={first['id']},987")
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_have_text("pilot 987 does not exist")
    assert console.errors(expected_statuses=frozenset({404, 422})) == [], console.messages
    context.close()
