"""Issue 15, limits: spending caps a legitimate user cannot blow through, upload quotas, deleting uploads, and
image checks that read headers only. Each test is named after what it prevents."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageFile

from backend.settings import Settings
from backend.store import RunStatus
from rblock.data.imagefolder import MAX_IMAGE_PIXELS, read_image
from rblock.data.split import DatasetError
from tests.support.api import API, Api, create_pilot, open_api, pilot_body, start
from tests.support.uploads import good_entries, make_zip, png, truncated_png, upload
from worker.runner import execute_run


@pytest.fixture
def api(sqlite_url: str, tmp_path: Path) -> Iterator[Api]:
    with open_api(sqlite_url, data_root=tmp_path / "data") as opened:
        yield opened


def errors_of(response: Any) -> dict[str, str]:
    """Each field's messages, joined (a field may break several limits)."""
    found: dict[str, str] = {}
    for item in response.json()["errors"]:
        found[item["field"]] = f"{found.get(item['field'], '')} {item['message']}".strip()
    return found


def test_the_probes_huge_dry_run_is_refused_naming_each_limit_and_its_excess(api: Api) -> None:
    # 20 arms × 50 seeds × 10,000 epochs at batch 65,536 and width 1,024 was accepted (8.7 million device-hours).
    arms = [{"name": f"a{i}", "regularizer": "rblock_b" if i % 2 else "none"} for i in range(20)]
    body = pilot_body(arms=arms, seeds=50, width=1024, training={"epochs": 10_000, "batch_size": 65_536}, dry_run=True)
    response = api.client.post(f"{API}/pilots", json=body)
    assert response.status_code == 422, response.text
    errors = errors_of(response)
    assert "1,000 runs is over the limit of 100" in errors["seeds"] and "by 900" in errors["seeds"]
    assert "10,000 epochs is over the limit of 1,000" in errors["training.epochs"] and "by 9,000" in response.text
    assert "1,024 width is over the limit of 512" in errors["width"] and "MAX_WIDTH" in errors["width"]
    assert "WORKER_MEMORY_GB" in response.text and "65,536 samples per batch" in response.text
    assert api.queue.sent == [] and api.store.list_pilots(status=None, offset=0, limit=5)[1] == 0


def test_a_pilot_over_the_default_budget_cap_is_refused_unless_it_sets_its_own(sqlite_url: str) -> None:
    with open_api(sqlite_url, default_budget_cap=0.001, price_per_hour={"cpu": 100.0}) as api:
        refused = api.client.post(f"{API}/pilots", json=pilot_body(dry_run=True, training={"epochs": 50}))
        assert refused.status_code == 422 and "default budget cap 0.00" in errors_of(refused)["budget_cap"]
        own = api.client.post(f"{API}/pilots", json=pilot_body(dry_run=True, budget_cap=1e6, training={"epochs": 50}))
        assert own.status_code == 200, own.text


def test_active_runs_per_user_cannot_pile_up_past_the_limit(sqlite_url: str) -> None:
    with open_api(sqlite_url, max_active_runs_per_user=5) as api:
        ana = api.as_user("ana")
        first = api.client.post(f"{API}/pilots", json=pilot_body(), headers=ana)  # 4 runs
        assert first.status_code == 201
        second = api.client.post(f"{API}/pilots", json=pilot_body(), headers=ana)
        assert second.status_code == 422
        assert "you have 4 runs queued or running and this pilot adds 4" in errors_of(second)["seeds"]
        assert "by 3" in errors_of(second)["seeds"]
        # another user has their own count
        assert api.client.post(f"{API}/pilots", json=pilot_body(), headers=api.as_user("bo")).status_code == 201


def test_extending_a_pilot_cannot_pass_the_runs_per_pilot_or_active_runs_limits(sqlite_url: str) -> None:
    with open_api(sqlite_url, max_runs_per_pilot=6, max_active_runs_per_user=7) as api:
        ana = api.as_user("ana")
        pilot = api.client.post(f"{API}/pilots", json=pilot_body(), headers=ana).json()["pilot"]  # 2 arms x 2 seeds
        extend = f"{API}/pilots/{pilot['id']}/extend"
        over = api.client.post(extend, json={"seeds": 2, "dry_run": True}, headers=ana)  # 8 runs in all
        assert over.status_code == 422, over.text
        assert "8 runs is over the limit of 6" in errors_of(over)["seeds"] and "by 2" in errors_of(over)["seeds"]
        busy = api.client.post(extend, json={"seeds": 1}, headers=ana)  # 6 in all, but 4 + 2 active
        assert busy.status_code == 201, busy.text
        more = api.client.post(extend, json={"arms": [{"name": "extra", "regularizer": "dropout"}]}, headers=ana)
        assert more.status_code == 422 and "runs is over the limit of 6" in more.text, more.text


def test_an_admin_raise_lets_one_user_past_a_limit_and_nobody_else(api: Api) -> None:
    body = pilot_body(dry_run=True, training={"epochs": 1500})
    ana, bo = api.as_user("ana"), api.as_user("bo")
    assert api.client.post(f"{API}/pilots", json=body, headers=ana).status_code == 422
    raised = api.client.patch(f"{API}/users/ana", json={"limits": {"epochs": 2000}})
    assert raised.status_code == 200 and raised.json()["limits"] == {"epochs": 2000.0}
    assert api.client.post(f"{API}/pilots", json=body, headers=ana).status_code == 200
    assert api.client.post(f"{API}/pilots", json=body, headers=bo).status_code == 422
    bad = api.client.patch(f"{API}/users/ana", json={"limits": {"gpus": 3}})
    assert bad.status_code == 422 and "unknown limit" in bad.json()["detail"]
    assert api.client.patch(f"{API}/users/ana", json={"limits": {"epochs": -1}}).status_code == 422
    back = api.client.patch(f"{API}/users/ana", json={"limits": {"epochs": None}})
    assert back.json()["limits"] == {}
    assert api.client.patch(f"{API}/users/ana", json={"limits": {"epochs": 9}}, headers=ana).status_code == 403


def test_the_worker_refuses_a_queued_run_over_a_limit_that_reached_the_queue(api: Api, tmp_path: Path) -> None:
    pilot = create_pilot(api)
    run_id = pilot["runs"][0]["id"]
    strict = Settings(
        database_url=api.settings.database_url, broker_url="memory://", artifact_dir=tmp_path / "art", max_epochs=1
    )
    outcome = execute_run(api.store, run_id, settings=strict, host="h", device_hint="cpu")
    assert outcome.status == RunStatus.FAILED and outcome.error is not None
    assert "training.epochs: 2 epochs is over the limit of 1" in outcome.error


def test_uploads_cannot_exceed_the_users_quota(sqlite_url: str, tmp_path: Path) -> None:
    with open_api(sqlite_url, data_root=tmp_path / "data", upload_quota_bytes=2_000) as api:
        uploads_within_a_quota_of_2000_bytes(api)


def uploads_within_a_quota_of_2000_bytes(api: Api) -> None:
    status, body = upload(api, make_zip(good_entries()))
    assert status == 201 and body["owner"] == "admin" and 0 < int(str(body["bytes"])) <= 2_000
    big = {f"cat/{i}.png": png(size=16) for i in range(20)} | {"dog/1.png": png(size=16)}
    status, body = upload(api, make_zip(big))
    assert status == 413 and "upload quota" in str(body["detail"]) and "over what is left" in str(body["detail"])


def test_a_dataset_can_be_deleted_by_its_owner_or_an_admin_only_and_not_while_a_pilot_trains_on_it(
    api: Api,
) -> None:
    ana, bo = api.as_user("ana"), api.as_user("bo")
    created = api.client.post(
        f"{API}/datasets", files={"file": ("p.zip", make_zip(good_entries()), "application/zip")}, headers=ana
    )
    folder, path = created.json()["folder"], created.json()["path"]
    assert path == f"uploads/{folder}"  # engineers see no server path
    assert api.client.delete(f"{API}/datasets/{folder}", headers=bo).status_code == 403
    assert api.client.delete(f"{API}/datasets/{folder}", headers=api.as_user("vi", "viewer")).status_code == 403
    params = {"path": path, "image_size": 8}
    pilot = create_pilot(api, dataset="imagefolder", dataset_params=params, seeds=1)
    start(api.store, pilot["runs"][0]["id"])
    busy = api.client.delete(f"{API}/datasets/{folder}", headers=ana)
    assert busy.status_code == 409 and f"pilot(s) {pilot['id']}" in busy.json()["detail"]
    api.client.post(f"{API}/pilots/{pilot['id']}/cancel")
    for run in api.store.list_runs(pilot_id=pilot["id"]):
        if run.status == RunStatus.CANCELLING:
            api.store.finish_run(run_id=run.id, status=RunStatus.CANCELLED, attempt=run.attempts)
    assert api.client.delete(f"{API}/datasets/{folder}", headers=ana).status_code == 204
    assert api.client.get(f"{API}/datasets").json()["items"] == []
    assert api.client.delete(f"{API}/datasets/{folder}").status_code == 404


def test_an_uploaded_image_is_checked_by_its_header_without_decoding_every_image(api: Api) -> None:
    huge = io.BytesIO()
    Image.new("1", (7000, 7000)).save(huge, format="PNG")  # 49 million pixels in a few KB
    # The probe's upload: 40 such images took 5.5 s of API CPU when every image was decoded.
    entries = {**good_entries(), **{f"cat/big{i}.png": huge.getvalue() for i in range(40)}}
    zipped = make_zip(entries)
    began = time.process_time()  # CPU time: what decoding costs, whatever else the machine runs
    status, body = upload(api, zipped)
    assert status == 422 and "7000 × 7000 pixels" in str(body["detail"])
    assert time.process_time() - began < 2.0


def test_a_corrupt_image_passes_the_header_check_and_fails_the_run_with_its_name(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, body = upload(api, make_zip({**good_entries(), "cat/broken.png": truncated_png()}))
    assert status == 201
    broken = tmp_path / "data" / str(body["path"]) / "cat" / "broken.png"
    with pytest.raises(DatasetError, match=r"broken\.png"):
        read_image(broken, 8, 3)
    # ... even in a process where a library has told PIL to pad truncated images (weasyprint does on import)
    with monkeypatch.context() as patch:
        patch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
        with pytest.raises(DatasetError, match=r"broken\.png"):
            read_image(broken, 8, 3)
        assert ImageFile.LOAD_TRUNCATED_IMAGES  # the setting is left as it was


def test_the_worker_names_an_image_over_the_pixel_cap(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    Image.new("1", (MAX_IMAGE_PIXELS // 1000 + 1, 1000)).save(big)
    with pytest.raises(DatasetError, match=r"big\.png is \d+ × 1000 pixels"):
        read_image(big, 8, 1)


def test_the_worker_and_the_api_share_one_pixel_cap() -> None:
    assert Settings().upload_max_image_pixels == MAX_IMAGE_PIXELS


def test_an_upload_manifest_without_an_owner_can_be_deleted_by_an_admin_only(api: Api, tmp_path: Path) -> None:
    _, body = upload(api, make_zip(good_entries()))
    manifest = tmp_path / "data" / "uploads" / str(body["folder"]) / ".upload.json"
    manifest.write_text(manifest.read_text().replace('"owner": "admin"', '"owner": null'))
    ana = api.as_user("ana")
    assert "no recorded owner" in api.client.delete(f"{API}/datasets/{body['folder']}", headers=ana).text
    assert api.client.delete(f"{API}/datasets/{body['folder']}").status_code == 204


def test_limit_raises_and_usage_counts_work_on_every_database(database_url: str) -> None:
    """What the limits read from the store, on SQLite and PostgreSQL (JSON column, joins, JSON params)."""
    with open_api(database_url) as api:
        api.as_user("ana")
        assert api.store.usage.set_user_limits(name="ana", changes={"epochs": 5000.0}) == {"epochs": 5000.0}
        assert api.store.usage.user_limits(name="ana") == {"epochs": 5000.0}
        assert api.store.usage.set_user_limits(name="ana", changes={"epochs": None}) == {}
        pilot = api.client.post(f"{API}/pilots", json=pilot_body(), headers=api.as_user("ana")).json()["pilot"]
        assert api.store.usage.active_runs(user_name="ana") == len(pilot["runs"])
        assert api.store.usage.active_runs(user_name="admin") == 0
        assert api.store.usage.active_pilots_using(dataset="digits", paths=[""]) == [pilot["id"]]
        assert api.store.usage.active_pilots_using(dataset="imagefolder", paths=[""]) == []
