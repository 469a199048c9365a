"""rblock-pilot report: writes each format from the database, and says clearly what is wrong otherwise."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from pilot_cli.main import main
from tests.support.analysis import finished_pilot
from tests.support.api import open_api


def test_report_formats_from_the_database(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_api(sqlite_url) as api:
        pilot = finished_pilot(api)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    out = tmp_path / "out" / "report.csv"
    assert main(["report", str(pilot["id"]), "--format", "csv", "-o", str(out)]) == 0
    assert len(list(csv.DictReader(out.open()))) == 6
    assert (tmp_path / "out" / "report-epochs.csv").exists()
    assert main(["report", str(pilot["id"]), "--format", "json", "-o", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["pilot_id"] == pilot["id"]
    assert main(["report", str(pilot["id"]), "--format", "html", "-o", str(tmp_path / "r.html")]) == 0


def test_report_errors_are_one_line(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    with open_api(sqlite_url):
        pass
    assert main(["report", "12345"]) == 2
    assert "pilot 12345 does not exist" in capsys.readouterr().err
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/none")
    assert main(["report", "1"]) == 2
    assert "cannot reach the database" in capsys.readouterr().err
