"""Plain words on the pages (issue 16): a "?" beside every metric and test opens its glossary line, the pilot page
ends with the glossary, the verdict card says each arm's sentence, and the price the costs use is shown."""

from __future__ import annotations

import html
import re

from markupsafe import escape

from pilot_spec.glossary import GLOSSARY, meaning
from pilot_spec.money import Currency
from tests.support.analysis import finished_pilot
from tests.support.api import API, pilot_body
from tests.support.site import open_site

HELP = re.compile(
    r'<button type="button" class="help" data-help="([a-z_]+)" aria-expanded="false" aria-controls="([^"]+)"[^>]*>\?'
    r'</button><span class="help-text" id="\2" hidden>(.*?)</span>',
    re.S,
)


def _helps(page: str) -> dict[str, str]:
    found = HELP.findall(page)
    assert len({text_id for _, text_id, _ in found}) == len(found), "two helps share an id"
    return {key: html.unescape(text) for key, _, text in found}


def test_the_pilot_page_explains_every_metric_and_test_and_says_each_verdict_in_a_sentence(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        roi = {"predictions_per_year": 1e6, "cost_per_error": 0.1, "retrains_per_year": 4}
        pilot = finished_pilot(site, roi=roi)
        page = site.client.get(f"/pilots/{pilot['id']}").text
        summary = site.client.get(f"{API}/pilots/{pilot['id']}/summary", params={"curves": "none"}).json()
    helps = _helps(page)
    shown = {"test_acc", "interval", "device_hours", "cost", "flip_rate", "ece", "seed_churn", "seeds", "delta_acc",
             "p_value", "holm", "delta_churn", "cohens_d", "seeds_needed", "verdict", "net_per_year", "roi",
             "inconsistency_kl", "price_per_device_hour", "benefit_per_year", "extra_cost_per_year"}  # fmt: skip
    assert shown <= helps.keys(), shown - helps.keys()
    assert all(text == meaning(key) for key, text in helps.items())
    # The help is a button a keyboard reaches, named by its term, its text in the page (not a hover title only).
    assert 'aria-label="What is Flip rate?"' in page
    glossary = page[page.index('id="glossary-h"') :]
    for term in GLOSSARY.values():
        assert f'<dt id="term-{term.key}">{escape(term.term)}</dt><dd>{escape(term.meaning)}</dd>' in glossary
    (roi_row,) = summary["roi"]
    assert roi_row["sentence"] and f'data-sentence="rblock_s">{escape(roi_row["sentence"])}</span>' in page
    # No price of its own: the costs' default price per device-hour of the device it ran on, in words.
    assert "so costs use the default: $0.05 per device-hour on a CPU." in page


def test_the_price_in_use_and_the_forms_default_price_are_shown_in_the_currency(sqlite_url: str) -> None:
    with open_site(sqlite_url, currency=Currency.parse("EUR:€")) as site:
        pilot = finished_pilot(site, roi={"price_per_device_hour": 1.25})
        page = site.client.get(f"/pilots/{pilot['id']}").text
        form = site.client.get("/pilots/new").text
    assert "Costs use this pilot's price, €1.25 per device-hour." in page
    assert (
        'id="price-help" data-price>Blank uses the default, €0.05 per device-hour on a CPU, €2.50 on a GPU.</p>' in form
    )


def test_the_sequential_card_explains_stopping_when_settled(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        roi = {"predictions_per_year": 1e6, "cost_per_error": 1.0, "retrains_per_year": 1.0}
        body = pilot_body(roi=roi, sequential={"max_seeds": 6, "round": 2})
        pilot = site.client.post(f"{API}/pilots", json=body).json()["pilot"]
        page = site.client.get(f"/pilots/{pilot['id']}").text
    card = page[page.index('data-sequential="running"') :]
    assert _helps(card)["sequential"] == meaning("sequential")
