"""The compare page and the pilots list's Compare form (issue 16), through TestClient on a fresh SQLite store."""

from __future__ import annotations

import html
import json
import re

from pilot_spec.money import Currency
from tests.support.analysis import finished_pilot
from tests.support.api import create_pilot, finish
from tests.support.hostile import BASE_ARM, NAME, OTHER_ARM, assert_escaped, hostile_pilot
from tests.support.site import open_site

SCIENTIFIC = re.compile(r"\d(?:\.\d+)?e[-+]\d", re.IGNORECASE)


def _reader_text(page: str) -> str:
    """What a reader sees: no scripts, no tags (nor their attributes)."""
    return re.sub(r"<script.*?</script>|<[^>]+>", " ", page, flags=re.S)


def _figure(page: str) -> dict[str, object]:
    found = re.search(r'data-plot="([^"]*)"', page)
    assert found, "no chart on the page"
    figure: dict[str, object] = json.loads(html.unescape(found.group(1)))
    return figure


def test_the_list_ticks_pilots_into_a_get_form_to_compare(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        first, second = create_pilot(site), create_pilot(site)
        page = site.client.get("/").text
        assert re.search(r'<form id="compare-form"[^>]*method="get" action="/compare"', page)
        for pilot in (first, second):
            box = f'<input class="pick" type="checkbox" form="compare-form" name="pilots" value="{pilot["id"]}"'
            assert box in page
        assert "Tick 2 to 12 pilots to compare them" in page


def test_two_pilots_side_by_side_with_their_chart(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        first, second = finished_pilot(site), finished_pilot(site)
        # The list's form sends one field per ticked box; a link may name them comma-separated.
        for query in (f"pilots={first['id']}&pilots={second['id']}", f"pilots={first['id']},{second['id']}"):
            response = site.client.get(f"/compare?{query}")
            assert response.status_code == 200, response.text
        page = response.text
        for pilot in (first, second):
            assert f'<tbody data-pilot="{pilot["id"]}">' in page
            assert f'<a href="/pilots/{pilot["id"]}">Pilot &lt;b&gt;ünïcode&lt;/b&gt;</a>' in page  # escaped
        assert page.count('data-verdict="') == 2  # one per non-baseline arm
        # The verdict in the same one sentence as on the pilot page (backend/analysis/sentence.py).
        assert re.search(r"(Adopt|Reject) rblock_s: even in the (worst|best) case|Inconclusive for rblock_s", page)
        assert "<td>$0.0010</td>" not in page and "<td>&lt; $0.01</td>" in page  # money, as pilot_spec.money says
        assert "What the columns mean" in page and "Seed churn" in page
        figure = _figure(page)
        traces = figure["data"]
        assert isinstance(traces, list)
        arms = {t["name"]: t for t in traces if t.get("legendgroup") == "points"}
        assert set(arms) == {"none", "rblock_s"} and all(len(t["x"]) == 2 for t in arms.values())
        assert arms["none"]["marker"]["color"] == "#888888"  # the baseline is grey, as in every chart
        assert arms["rblock_s"]["marker"]["symbol"] == ["circle", "square"]  # a shape per pilot
        legend = [t["name"] for t in traces if t.get("showlegend") is not False]
        assert legend == ["none", "rblock_s", f"#{first['id']} Pilot &lt;b&gt;ünïcode&lt;/b&gt;",
                          f"#{second['id']} Pilot &lt;b&gt;ünïcode&lt;/b&gt;"]  # fmt: skip


def test_money_in_the_currency_setting_and_never_scientific(sqlite_url: str) -> None:
    with open_site(sqlite_url, currency=Currency.parse("EUR:€")) as site:
        ids = []
        for _ in range(2):
            pilot = create_pilot(site, seeds=2)
            for run in pilot["runs"]:  # tiny costs: 7.5e-05 device-hours each
                finish(site.store, run["id"], hours=7.538e-05, points=[("test_acc", 1, 0.9)])
            ids.append(pilot["id"])
        page = site.client.get(f"/compare?pilots={ids[0]},{ids[1]}").text
        text = _reader_text(page)
        assert not SCIENTIFIC.search(text), SCIENTIFIC.findall(text)
        assert "&lt; €0.01" in page and "$" not in text
        axis = _figure(page)["layout"]
        assert isinstance(axis, dict) and axis["xaxis"]["tickprefix"] == "€"
        assert axis["xaxis"]["exponentformat"] == "none"


def test_a_bad_list_is_a_page_in_words(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        pilot = create_pilot(site)
        cases = {
            "/compare": (422, "no pilots to compare"),
            f"/compare?pilots={pilot['id']}": (422, "only 1 pilot named: tick or name at least 2"),
            f"/compare?pilots={pilot['id']}&pilots={pilot['id']}": (422, f"pilot {pilot['id']} is named twice"),
            f"/compare?pilots={pilot['id']},abc": (422, "&#39;abc&#39; is not a pilot id"),
            f"/compare?pilots={pilot['id']},555": (404, "pilot 555 does not exist"),
        }
        for path, (status, says) in cases.items():
            response = site.client.get(path)
            assert response.status_code == status, (path, response.text)
            assert says in response.text and 'href="/">the pilots list</a>' in response.text, path
            assert "data-plot" not in response.text


def test_signed_out_is_sent_to_sign_in(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        response = site.client.get("/compare?pilots=1,2", headers={"Authorization": ""}, follow_redirects=False)
        assert response.status_code in (302, 303) and response.headers["location"].startswith("/login"), response


def test_hostile_names_are_text_on_the_page_and_in_the_chart(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        first, second = hostile_pilot(site), hostile_pilot(site)
        page = site.client.get(f"/compare?pilots={first['id']},{second['id']}").text
        assert_escaped(page, NAME, BASE_ARM, OTHER_ARM)
        # Plotly renders some HTML in names and hover text: the chart's names are escaped for it too.
        traces = _figure(page)["data"]
        assert isinstance(traces, list)
        assert not any("<script>" in json.dumps(trace, ensure_ascii=False) for trace in traces)
