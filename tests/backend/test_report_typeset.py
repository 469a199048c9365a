"""The HTML and PDF reports a manager forwards (issue 16): a typeset setup table (no JSON) with its labels from
pilot_spec, dates to the minute with the time zone, money with the currency's symbol and never a number in
scientific notation, the notes and tags, a glossary; in the PDF no word or number broken across lines.

Each check reads what a reader gets: the HTML report's visible text and ``pdftotext -layout`` of the PDF,
both fetched from the real API for a realistic pilot (tests/support/reports.py). The test that makes the
PDF also retakes docs/screenshots/report_page1.png and report_page2.png (its first two pages at 80 dpi).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from backend.reports.render import REPORT_TERMS
from pilot_spec.arms import ARMS
from pilot_spec.glossary import GLOSSARY
from pilot_spec.training import TRAINING
from tests.support.api import API, open_api
from tests.support.chromium import CHROMIUM
from tests.support.reports import FAILURE, NOTES, TAGS, reported_pilot

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")
MINUTE = re.compile(r"\b\d{4}-\d\d-\d\d \d\d:\d\d UTC\b")
SECONDS = re.compile(r"\d\d:\d\d:\d\d")
needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None or not Path(CHROMIUM).exists(), reason="needs poppler and chromium"
)


# Elements a reader sees apart from their neighbours (a cell, a paragraph): a space between, none inside <b>.
_BLOCKS = frozenset({"p", "div", "td", "th", "tr", "li", "h1", "h2", "h3", "br", "title", "ul", "table"})


class _VisibleText(HTMLParser):
    """The text a reader sees: everything outside <script> and <style>, blocks apart, inline text joined."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._hidden += tag in ("script", "style")
        self.parts.append(" " if tag in _BLOCKS else "")

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("script", "style")
        self.parts.append(" " if tag in _BLOCKS else "")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join("".join(parser.parts).split())


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, bytes]]:
    """(the HTML report's visible text, the PDF) of the realistic pilot, from the API."""
    folder = tmp_path_factory.mktemp("reports")
    with open_api(f"sqlite:///{folder}/pilot.db") as api:
        pilot_id = reported_pilot(api)
        html = api.client.get(f"{API}/pilots/{pilot_id}/report.html")
        pdf = api.client.get(f"{API}/pilots/{pilot_id}/report.pdf")
        assert html.status_code == 200 and pdf.status_code == 200, (html.text[:200], pdf.text[:200])
        yield visible_text(html.text), pdf.content


def _pdf_text(pdf: bytes, folder: Path, *options: str) -> str:
    """``pdftotext``'s text of the PDF: with ``-layout`` as laid out, else in reading order (the glossary's
    two columns one after the other)."""
    path = folder / "report.pdf"
    path.write_bytes(pdf)
    command = ["pdftotext", *options, str(path), "-"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def _squeezed(text: str) -> str:
    return re.sub(r"[\s-]", "", text)


def _check_reader_text(text: str) -> None:
    """What both reports must say, in the words a reader gets."""
    flat = " ".join(text.split())
    assert not SCIENTIFIC.findall(flat), SCIENTIFIC.findall(flat)
    # The setup is typeset: every training setting by its name in pilot_spec.training, every arm parameter.
    for setting in set(TRAINING) - {"width", "seed"}:
        assert re.search(rf"\b{setting}\b", flat), setting
    for param in set(ARMS["rblock_s"].params) | set(ARMS["rblock_b"].params):
        assert re.search(rf"\b{param}\b", flat), param
    assert "label_smoothing 0.1" in flat and "drop_prob 0.15" in flat and "alpha 0.5" in flat
    assert '"epochs"' not in flat and "{" not in flat  # no JSON
    # Dates to the minute, with the zone, and never seconds or microseconds.
    assert len(MINUTE.findall(flat)) >= 4 and not SECONDS.search(flat)
    # Money: the symbol, thousands separators, tiny amounts in words; ROI labelled as a ratio.
    assert "Price per device-hour cpu: $0.05 (the default for cpu)" in flat
    assert "< $0.01" in flat and re.search(r"\$\d{1,3},\d{3}", flat) and "$25,000,000" not in flat
    assert "25,000,000" in flat and "$0.002" in flat and "ROI (ratio)" in flat and "×" in flat
    # The owner's notes and tags.
    assert all(line in flat for line in NOTES.splitlines()) and all(tag in flat for tag in TAGS)
    # The glossary: every term the report shows, with its meaning from pilot_spec.glossary.
    # Compared without spaces and hyphens: pdftotext joins a line that ends in "seed-" to the next as "seedto-".
    assert "Glossary" in flat
    for key in REPORT_TERMS:
        term = GLOSSARY[key]
        assert _squeezed(f"{term.term}: {term.meaning}") in _squeezed(flat), term.term


def test_the_html_report_is_typeset_for_a_reader(reports: tuple[str, bytes]) -> None:
    html_text, _ = reports
    _check_reader_text(html_text)
    assert FAILURE in html_text


@needs_poppler
def test_the_pdf_is_typeset_with_no_word_or_number_broken(reports: tuple[str, bytes], tmp_path: Path) -> None:
    html_text, pdf = reports
    _check_reader_text(_pdf_text(pdf, tmp_path))
    text = _pdf_text(pdf, tmp_path, "-layout")
    # No word or number broken across lines: every word of the PDF is a whole word of the report's text (a
    # label cut as "dat" / "aset" or an amount as "$4," / "497" would not be). Times are left out: the two
    # reports were made a moment apart. The page footer and list bullets are the PDF's own. A line may end
    # after a hyphen of a compound, as in any typesetting ("seed-" / "to-seed"): the word is not cut.
    words = set(html_text.split()) | {"page", "of", "•"}

    def whole(word: str) -> bool:
        if word in words or re.fullmatch(r"\d+|\d\d:\d\d", word):
            return True
        if word.endswith("-"):
            return any(w.startswith(word) for w in words)
        return any(w.endswith(f"-{word}") for w in words)

    assert [word for word in text.split() if not whole(word)] == []


@needs_poppler
def test_the_pdf_pages_are_the_screenshots(reports: tuple[str, bytes], tmp_path: Path) -> None:
    """docs/screenshots/report_page1.png and report_page2.png: the first two pages at 80 dpi."""
    _, pdf = reports
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for page in (1, 2):
        target = SHOTS / f"report_page{page}"
        command = ["pdftoppm", "-png", "-r", "80", "-f", str(page), "-l", str(page), "-singlefile", str(path)]
        subprocess.run([*command, str(target)], check=True)
        assert target.with_suffix(".png").stat().st_size > 10_000


def test_money_is_in_the_currency_setting(tmp_path: Path) -> None:
    with open_api(f"sqlite:///{tmp_path}/pilot.db", currency="EUR:€") as api:
        pilot_id = reported_pilot(api)
        text = visible_text(api.client.get(f"{API}/pilots/{pilot_id}/report.html").text)
    assert "money in EUR" in text and "€0.05 (the default for cpu)" in text and "$" not in text
