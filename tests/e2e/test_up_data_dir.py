"""``rblock-pilot up --data-dir D`` keeps every file of the embedded defaults under D, uploads included.

Before, ``DATA_ROOT`` kept its own default (``var/data`` of the current folder), so a dataset uploaded to a
service started with ``--data-dir D`` landed in the folder ``up`` was started from, not under D. This test
drives the real command (``python -m pilot_cli.main up``), started from the repository root, and uploads
through the API as a user would.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.support.processes import (
    NEW_PASSWORD,
    ROOT,
    Processes,
    bearer,
    first_admin_password,
    free_port,
    sign_in_and_replace_password,
    start_up,
)
from tests.support.uploads import good_entries, make_zip

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_uploads_and_the_data_root_live_under_the_data_dir(
    processes: Processes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATA_ROOT", raising=False)  # the embedded default is what is under test
    data_dir = tmp_path / "var"
    up, client = start_up(processes, data_dir, free_port())
    assert f"datasets: {data_dir / 'data'}" in up.text()
    token = sign_in_and_replace_password(str(client.base_url), "admin", first_admin_password(up.text()), NEW_PASSWORD)
    client.headers.update(bearer(token))

    sent = client.post(
        "/api/v1/datasets",
        files={"file": ("pets.zip", make_zip(good_entries()), "application/zip")},
        data={"name": "pets under the data dir"},
    )
    assert sent.status_code == 201, sent.text
    folder = sent.json()["folder"]
    extracted = data_dir / "data" / "uploads" / folder
    assert sent.json()["path"] == str(extracted)  # an admin sees the absolute path
    assert sorted(p.name for p in extracted.iterdir() if p.is_dir()) == ["cat", "dog"]
    assert not (ROOT / "var" / "data" / "uploads" / folder).exists()
    client.close()
    assert up.stop(signal.SIGTERM, timeout_s=60) == 0, up.text()[-4000:]
