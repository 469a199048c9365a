"""The reports carry the decision record (issue 11 §5): the PDF's text and the JSON list every decision,
newest first, the provisional ones marked, each with the start of its snapshot's hash."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.reports.headline import decision_lines
from tests.support.api import API, Api, create_pilot, finish, open_api
from tests.support.chromium import CHROMIUM


@pytest.fixture
def decided(sqlite_url: str) -> Iterator[tuple[Api, int, list[dict[str, Any]]]]:
    """A pilot decided twice: deferred by a manager while it ran, then adopted by the admin once it finished."""
    with open_api(sqlite_url) as api:
        pilot = create_pilot(api)
        manager = api.as_user("vera", "viewer")
        body = {"decision": "defer", "arm": "rblock_s", "note": "wait for the last seeds"}
        early = api.client.post(f"{API}/pilots/{pilot['id']}/decision", json=body, headers=manager).json()
        for index, run in enumerate(pilot["runs"]):
            finish(api.store, run["id"], points=[("test_acc", 1, 0.9 + 0.01 * index)])
        body = {"decision": "adopt", "arm": "rblock_s", "note": "worth the extra hour"}
        late = api.client.post(f"{API}/pilots/{pilot['id']}/decision", json=body).json()
        yield api, pilot["id"], [late, early]


def test_decision_lines_mark_provisional_ones(decided: Any) -> None:
    _, _, (late, early) = decided
    newest, oldest = decision_lines([late, early])
    assert "UTC: ADOPT rblock_s, by admin. Note: “worth the extra hour”." in newest and "PROVISIONAL" not in newest
    assert "DEFER rblock_s, by vera (PROVISIONAL: runs were still queued or running)" in oldest
    assert newest.endswith(f"Snapshot SHA-256 {late['summary_sha256'][:12]}…")


def test_the_json_report_lists_the_decisions_newest_first(decided: Any) -> None:
    api, pilot_id, made = decided
    report = json.loads(api.client.get(f"{API}/pilots/{pilot_id}/report.json").content)
    assert report["decisions"] == made and report["pilot_id"] == pilot_id


@pytest.mark.skipif(
    shutil.which("pdftotext") is None or not Path(CHROMIUM).exists(), reason="needs poppler and chromium"
)
def test_the_pdf_carries_the_decisions_provisional_marked(decided: Any, tmp_path: Path) -> None:
    api, pilot_id, (late, early) = decided
    response = api.client.get(f"{API}/pilots/{pilot_id}/report.pdf", headers=api.as_user("vera", "viewer"))
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(response.content)
    raw = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    text = " ".join(raw.split())
    assert "Decisions recorded" in text
    adopt = text.index("ADOPT rblock_s, by admin. Note: “worth the extra hour”.")
    defer = text.index("DEFER rblock_s, by vera (PROVISIONAL: runs were still queued or running). Note: “wait")
    assert adopt < defer  # latest first
    assert late["summary_sha256"][:12] in text and early["summary_sha256"][:12] in text
