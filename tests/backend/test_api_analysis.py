"""The analysis endpoints: summary, ROI inputs recompute the verdict, figures, and report downloads."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.analysis import finished_pilot
from tests.support.api import API, Api


def test_summary_then_roi_inputs_change_the_verdict(api: Api) -> None:
    pilot = finished_pilot(api)
    summary = api.client.get(f"{API}/pilots/{pilot['id']}/summary").json()
    assert summary["baseline_arm"] == "none" and summary["provisional"] is False
    comparison = summary["comparisons"][0]
    assert comparison["arm"] == "rblock_s" and comparison["delta_acc"] == pytest.approx(0.0247, abs=1e-3)
    assert summary["roi"][0]["verdict"] == "inconclusive" and "set the ROI inputs" in summary["roi"][0]["reason"]
    inputs = {"predictions_per_year": 1e6, "cost_per_error": 0.5, "retrains_per_year": 12}
    adopt = api.client.put(f"{API}/pilots/{pilot['id']}/roi", json=inputs).json()
    assert adopt["roi"][0]["verdict"] == "adopt"
    tiny = {**inputs, "predictions_per_year": 1.0, "price_per_device_hour": 1e6}
    assert api.client.put(f"{API}/pilots/{pilot['id']}/roi", json=tiny).json()["roi"][0]["verdict"] == "reject"
    assert api.client.get(f"{API}/pilots/{pilot['id']}").json()["roi"]["predictions_per_year"] == 1.0


def test_bad_roi_inputs_are_422(api: Api) -> None:
    pilot = finished_pilot(api)
    response = api.client.put(f"{API}/pilots/{pilot['id']}/roi", json={"cost_per_error": -1})
    assert response.status_code == 422 and "cost_per_error" in response.text
    assert api.client.put(f"{API}/pilots/{pilot['id']}/roi", json={"colour": 1}).status_code == 422


def test_figures_are_plotly_json_and_unknown_ones_404(api: Api) -> None:
    pilot = finished_pilot(api)
    fig = api.client.get(f"{API}/pilots/{pilot['id']}/figures/accuracy_curves").json()
    assert [t["name"] for t in fig["data"] if t.get("mode") == "lines"] == ["none", "rblock_s"]
    missing = api.client.get(f"{API}/pilots/{pilot['id']}/figures/pie")
    assert missing.status_code == 404 and "accuracy_curves" in missing.text
    assert api.client.get(f"{API}/pilots/999/figures/roi").status_code == 404


def test_csv_json_and_html_reports(api: Api) -> None:
    pilot = finished_pilot(api)
    base = f"{API}/pilots/{pilot['id']}"
    runs_csv = api.client.get(f"{base}/report.csv")
    assert runs_csv.headers["content-type"].startswith("text/csv")
    assert 'filename="pilot-' in runs_csv.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(runs_csv.text)))
    assert len(rows) == 6 and {r["status"] for r in rows} == {"succeeded"}
    epochs = list(csv.DictReader(io.StringIO(api.client.get(f"{base}/epochs.csv").text)))
    assert len(epochs) == 6 * 2 * 2
    assert api.client.get(f"{base}/report.json").json()["comparisons"][0]["arm"] == "rblock_s"
    html = api.client.get(f"{base}/report.html").text
    assert "Pilot &lt;b&gt;ünïcode&lt;/b&gt;" in html and "Plotly.newPlot" in html
    bad = api.client.get(f"{base}/report.docx")
    assert bad.status_code == 422 and "pdf, html, csv" in bad.text


@pytest.mark.skipif(
    shutil.which("pdftotext") is None or not Path("/usr/bin/chromium").exists(), reason="needs poppler and chromium"
)
def test_pdf_report_download(api: Api, tmp_path: Path) -> None:
    pilot = finished_pilot(api)
    api.client.put(f"{API}/pilots/{pilot['id']}/roi", json={"predictions_per_year": 1e6, "cost_per_error": 0.5})
    response = api.client.get(f"{API}/pilots/{pilot['id']}/report.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    path = tmp_path / "r.pdf"
    path.write_bytes(response.content)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "Pilot <b>ünïcode</b>" in text and "rblock_s: ADOPT" in " ".join(text.split())
