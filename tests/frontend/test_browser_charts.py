"""The pilot's charts in Chromium (issue 16): one colour per arm from the server, axes inside what a value can
be, the curves' metric selector, no labels over each other on the desktop or at 390 px (the stability panels
stacked), and the run page's loss ticks readable.

Writes docs/screenshots/pilot_desktop_dark.png and docs/screenshots/pilot_phone.png.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from backend.store import RunStatus, Store
from pilot_spec.colours import BASELINE_GREY, arm_colours
from tests.support.api import pilot_body, start
from tests.support.browser import ENGINEER, Console, Site, add_session, wait_for_chart_points
from tests.support.chromium import CHROMIUM

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ARMS: list[dict[str, Any]] = [
    {"regularizer": "none"},
    {"regularizer": "dropout", "params": {"drop_prob": 0.1}},
    {"regularizer": "rblock_s"},
]
EPOCHS = 4
# Text a chart writes: its title, tick labels, axis titles, legend entries and annotations (the panels' titles).
LABELS = (
    ".gtitle, .xtick text, .ytick text, .y2tick text, .g-xtitle, .g-ytitle, .g-y2title, .legend .traces, .annotation"
)


def _finish(store: Store, run_id: int, arm_index: int, seed: int) -> None:
    """A finished run whose accuracy nears 1 (a seed's interval passes 1 unless cut) and whose loss is small
    (0.004 to 0.0005: the losses whose ticks read "0")."""
    start(store, run_id)
    accuracy = [0.90 + 0.02 * epoch + 0.01 * arm_index + 0.004 * seed for epoch in range(EPOCHS)]
    points = [("test_acc", e, a) for e, a in enumerate(accuracy)]
    points += [("train_acc", e, min(1.0, a + 0.01)) for e, a in enumerate(accuracy)]
    points += [("test_loss", e, 0.004 / (e + 1) + 0.0001 * arm_index) for e in range(EPOCHS)]
    points += [("train_loss", e, 0.003 / (e + 1)) for e in range(EPOCHS)]
    if arm_index == 2:
        points += [("consistency_kl", e, 0.5 / (e + 1)) for e in range(EPOCHS)]
    store.write_points(run_id=run_id, points=points)
    final = {"test_acc": accuracy[-1], "inconsistency_kl": 0.1 * arm_index, "flip_rate": 0.02 * (3 - arm_index),
             "ece": 0.03, "nll": 0.2}  # fmt: skip
    cost = {"device_hours": 0.0004 * (arm_index + 1), "device_kind": "cpu", "device_name": "cpu",
            "samples_per_second": 1000.0}  # fmt: skip
    store.finish_run(run_id=run_id, status=RunStatus.SUCCEEDED, error=None, cost=cost, final_metrics=final)


@pytest.fixture
def pilot(site: Site) -> dict[str, Any]:
    body = pilot_body(name="charts", arms=ARMS, seeds=2, training={"epochs": EPOCHS})
    created = site.api("POST", "/pilots", json=body)
    assert created.status_code == 201, created.text
    made: dict[str, Any] = created.json()["pilot"]
    kinds = [arm["regularizer"] for arm in ARMS]
    for run in made["runs"]:
        _finish(site.store, run["id"], kinds.index(run["arm"]), run["seed"])
    return made


def _overlaps(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Pairs of boxes that share more than a pixel each way (touching is not overlapping)."""
    found = []
    for a, b in itertools.combinations(boxes, 2):
        dx = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
        dy = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
        if dx > 1 and dy > 1:
            found.append((a["text"], b["text"]))
    return found


def _label_boxes(page: Any, chart: str) -> list[dict[str, Any]]:
    """The boxes of every visible label the chart ``chart`` (a CSS selector) writes; each must lie inside the
    chart (a title wider than a phone was cut at its edges, a wrapped one at its top)."""
    found = page.evaluate(
        """([chart, labels]) => [...document.querySelectorAll(chart)].flatMap((el) => {
             const outer = el.getBoundingClientRect();
             return [...el.querySelectorAll(labels)].map((n) => {
               const r = n.getBoundingClientRect();
               const inside = r.left >= outer.left - 1 && r.right <= outer.right + 1
                 && r.top >= outer.top - 1 && r.bottom <= outer.bottom + 1;
               return {text: n.textContent, x: r.x, y: r.y, width: r.width, height: r.height, inside};
             }).filter((b) => b.width > 0 && b.height > 0 && b.text.trim() !== "");
           })""",
        [chart, LABELS],
    )
    assert [box["text"] for box in found if not box["inside"]] == [], chart
    return list(found)


def _wait_for_figures(page: Any) -> None:
    for name in ("accuracy vs cost", "stability", "roi"):
        page.wait_for_selector(f'.figure[aria-label="{name}"] .main-svg', timeout=15_000)


def _y_range(page: Any, element_id: str, axis: str = "yaxis") -> list[float]:
    return list(page.evaluate(f"document.getElementById('{element_id}')._fullLayout.{axis}.range"))


def test_pilot_charts_colours_axes_selector_and_labels(
    site: Site, chromium_browser: Any, pilot: dict[str, Any]
) -> None:
    console = Console()
    desktop = chromium_browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    add_session(desktop, site.url, ENGINEER)
    page = console.watch(desktop.new_page())
    page.goto(f"{site.url}/pilots/{pilot['id']}")
    wait_for_chart_points(page, "curves", more_than=0)

    # One colour per arm: the curves', the server's table's and the figures' are the same, the baseline grey.
    expected = arm_colours(((arm["regularizer"], arm["regularizer"]) for arm in ARMS), baseline="none")
    assert expected["none"] == BASELINE_GREY
    drawn = dict(page.evaluate("document.getElementById('curves').data.map((t) => [t.name, t.line.color])"))
    assert drawn == expected
    figure = site.api("GET", f"/pilots/{pilot['id']}/figures/accuracy_vs_cost").json()
    assert {t["name"]: t["marker"]["color"] for t in figure["data"] if t["name"] in expected} == expected

    # Accuracy near 1: the axis stops at 1, and still zooms in on the data (0.90 to 0.99).
    low, high = _y_range(page, "curves")
    assert 0.5 < low < high <= 1

    # The metric selector: by keyboard, the curves switch to test loss (an axis from 0 up, new points).
    selector = page.get_by_label("Metric per epoch")
    assert selector.evaluate("(el) => el.value") == "test_acc"
    accuracy_y = page.evaluate("document.getElementById('curves').data[0].y")
    selector.focus()
    page.keyboard.press("ArrowDown")
    assert selector.evaluate("(el) => el.value") == "test_loss"
    playwright_api.expect(page.locator("#curves")).to_have_attribute("data-shown", "test_loss", timeout=10_000)
    playwright_api.expect(page.locator("#curves .g-ytitle")).to_have_text("test loss")
    assert page.evaluate("document.getElementById('curves').data[0].y") != accuracy_y
    assert _y_range(page, "curves")[0] >= 0
    selector.select_option("consistency_kl")
    playwright_api.expect(page.locator("#curves")).to_have_attribute("data-shown", "consistency_kl", timeout=10_000)
    assert page.evaluate("document.getElementById('curves').data.map((t) => t.name)") == ["rblock_s"]
    selector.select_option("test_acc")
    playwright_api.expect(page.locator("#curves")).to_have_attribute("data-shown", "test_acc", timeout=10_000)

    _wait_for_figures(page)
    # The scatter's error bars and axes: accuracy in [0, 1], device-hours from 0.
    scatter = '.figure[aria-label="accuracy vs cost"]'
    x_low = page.evaluate(f"document.querySelector('{scatter}')._fullLayout.xaxis.range[0]")
    y_low, y_high = page.evaluate(f"document.querySelector('{scatter}')._fullLayout.yaxis.range")
    assert x_low >= 0 and 0.5 < y_low < y_high <= 1
    for chart in ("#curves", scatter, '.figure[aria-label="stability"]', '.figure[aria-label="roi"]'):
        assert _overlaps(_label_boxes(page, chart)) == [], chart
    selector.blur()  # the screenshot without the focus ring
    page.screenshot(path=str(SHOTS / "pilot_desktop_dark.png"), full_page=True)
    desktop.close()

    phone_context = chromium_browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="light")
    add_session(phone_context, site.url, ENGINEER)
    phone = console.watch(phone_context.new_page())
    phone.goto(f"{site.url}/pilots/{pilot['id']}")
    wait_for_chart_points(phone, "curves", more_than=0)
    _wait_for_figures(phone)
    stability = '.figure[aria-label="stability"]'
    playwright_api.expect(phone.locator(stability)).to_have_attribute("data-stacked", "1", timeout=10_000)
    panels = phone.evaluate(
        f"""[...document.querySelectorAll('{stability} .draglayer .nsewdrag')].map((n) => {{
              const r = n.getBoundingClientRect();
              return {{text: n.getAttribute('class'), x: r.x, y: r.y, width: r.width, height: r.height}};
            }})"""
    )
    assert len(panels) == 4
    assert _overlaps(panels) == [], panels
    for chart in ("#curves", '.figure[aria-label="accuracy vs cost"]', stability, '.figure[aria-label="roi"]'):
        assert _overlaps(_label_boxes(phone, chart)) == [], chart
    phone.screenshot(path=str(SHOTS / "pilot_phone.png"), full_page=True)
    phone_context.close()

    assert console.errors() == []
    assert console.csp_violations() == []


def test_run_page_loss_ticks_are_distinct(site: Site, chromium_browser: Any, pilot: dict[str, Any]) -> None:
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    add_session(context, site.url, ENGINEER)
    page = context.new_page()
    page.goto(f"{site.url}/runs/{pilot['runs'][0]['id']}")
    wait_for_chart_points(page, "run-curves", more_than=0)
    for ticks in (".ytick text", ".y2tick text"):
        labels = page.locator(f"#run-curves {ticks}").all_text_contents()
        assert len(labels) >= 2 and len(set(labels)) == len(labels), (ticks, labels)
    low, high = _y_range(page, "run-curves")
    assert 0 <= low < high <= 1
    assert _y_range(page, "run-curves", "yaxis2")[0] >= 0
    assert _overlaps(_label_boxes(page, "#run-curves")) == []
    context.close()
