"""Reports: the PDF's text holds the headline and the numbers and its pages render; CSV parses; the
HTML opens in Chromium with no network request; a running pilot's report says provisional first."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from backend.analysis.summary import build_summary
from backend.reports.headline import verdict_sentences
from backend.reports.render import render_epochs_csv, render_html, render_pdf, render_runs_csv
from backend.store.entities import MetricPoint, RunStatus
from tests.support.analysis import make_pilot, make_run
from tests.support.chromium import CHROMIUM


@pytest.fixture(scope="module")
def pilot_data() -> tuple[Any, list[Any], list[MetricPoint], dict[str, Any]]:
    pilot = make_pilot(
        {"none": {}, "rblock_s": {"drop_prob": 0.1}, "dropblock": {"drop_prob": 0.1}},
        roi={"predictions_per_year": 2e6, "cost_per_error": 0.3, "retrains_per_year": 12},
    )
    accs = {"none": (0.950, 0.955, 0.948), "rblock_s": (0.962, 0.970, 0.959), "dropblock": (0.951, 0.949, 0.957)}
    runs = [
        make_run(10 * k + s, arm, s, acc, hours=0.01 * (k + 1), extra={"inconsistency_kl": 0.01 * k})
        for k, (arm, values) in enumerate(accs.items())
        for s, acc in enumerate(values)
    ]
    runs.append(make_run(99, "dropblock", 3, None, status=RunStatus.FAILED))
    runs[-1] = runs[-1].__class__(**{**runs[-1].__dict__, "error": "the training loss became NaN in epoch 2"})
    points = [MetricPoint(r.id, "test_acc", e, 0.5 + 0.1 * e) for r in runs for e in (1, 2, 3)]
    return pilot, runs, points, build_summary(pilot, runs, points, prices={"cpu": 2.0})


def test_headline_gives_each_arm_a_verdict_with_numbers(pilot_data: Any) -> None:
    _, _, _, summary = pilot_data
    sentences = verdict_sentences(summary)
    assert len(sentences) == 2
    assert sentences[0].startswith("rblock_s: ") and "pp accuracy against none" in sentences[0]
    assert any(word in sentences[0] for word in ("ADOPT", "REJECT", "INCONCLUSIVE"))


@pytest.mark.skipif(
    shutil.which("pdftotext") is None or not Path(CHROMIUM).exists(), reason="needs poppler and chromium"
)
def test_pdf_text_holds_the_headline_and_numbers_and_pages_render(pilot_data: Any, tmp_path: Path) -> None:
    pilot, runs, _, summary = pilot_data
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render_pdf(summary, pilot, runs))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    first = verdict_sentences(summary)[0]
    assert first.split(".")[0] in " ".join(text.split())  # "rblock_s: ADOPT" (or its verdict)
    rblock = summary.arm("rblock_s")
    assert rblock is not None
    assert f"{rblock.test_acc.mean:.4f}" in text
    assert "the training loss became NaN in epoch 2" in " ".join(text.split())
    pages = int(
        next(
            line.split()[-1]
            for line in subprocess.run(
                ["pdfinfo", str(pdf)], capture_output=True, text=True, check=True
            ).stdout.splitlines()
            if line.startswith("Pages:")
        )
    )
    assert 1 <= pages <= 3
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(pdf), str(tmp_path / "page")], check=True)
    assert len(list(tmp_path.glob("page*.png"))) == pages


def test_csv_parses_and_matches_the_runs(pilot_data: Any) -> None:
    pilot, runs, points, _ = pilot_data
    rows = list(csv.DictReader(io.StringIO(render_runs_csv(pilot, runs))))
    assert len(rows) == len(runs)
    by_id = {int(r["run_id"]): r for r in rows}
    for run in runs:
        row = by_id[run.id]
        assert row["arm"] == run.arm and row["status"] == run.status.value
        if run.final_metrics:
            assert float(row["test_acc"]) == pytest.approx(run.final_metrics["test_acc"])
    assert by_id[99]["error"] == "the training loss became NaN in epoch 2"
    epochs = list(csv.DictReader(io.StringIO(render_epochs_csv(runs, points))))
    assert len(epochs) == len(points) and set(epochs[0]) == {"run_id", "arm", "seed", "key", "epoch", "value"}


def test_provisional_report_says_so_first(pilot_data: Any) -> None:
    pilot, runs, points, _ = pilot_data
    running = [*runs, make_run(100, "none", 7, None, status=RunStatus.RUNNING)]
    summary = build_summary(pilot, running, points, prices={"cpu": 2.0})
    html = render_html(summary, pilot, running)
    body = html.split("<body>", 1)[1].lstrip()
    assert body.startswith('<p class="provisional">PROVISIONAL')


def test_user_text_is_escaped(pilot_data: Any) -> None:
    pilot, runs, points, _ = pilot_data
    evil = pilot.__class__(**{**pilot.__dict__, "name": "<script>alert(1)</script>"})
    summary = build_summary(evil, runs, points, prices={"cpu": 2.0})
    html = render_html(summary, evil, runs)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_html_opens_in_chromium_with_no_network_request(pilot_data: Any, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    pilot, runs, _, summary = pilot_data
    page_file = tmp_path / "report.html"
    page_file.write_text(render_html(summary, pilot, runs))
    requests: list[str] = []
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_file.as_uri())
        page.wait_for_selector("#fig-accuracy_curves .main-svg")
        charts = page.locator(".chart .main-svg").count()
        browser.close()
    assert [u for u in requests if not u.startswith("file://")] == []
    assert errors == [] and charts >= 4
