"""An imagefolder path must resolve inside the data root: the API refuses the rest with a 422 (issue 12 §2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.data_paths import DATASET_PATH_FIELD, dataset_path_problem
from tests.support.api import API, Api, open_api, pilot_body


@pytest.fixture
def rooted(sqlite_url: str, tmp_path: Path) -> Iterator[Api]:
    """The API with its data root in ``tmp_path/data``, one upload inside, a secret folder outside."""
    root = tmp_path / "data"
    (root / "uploads" / "mine").mkdir(parents=True)
    (tmp_path / "secret-place").mkdir()
    (root / "uploads" / "link-out").symlink_to(tmp_path / "secret-place")
    with open_api(sqlite_url, data_root=root) as api:
        yield api


def dry_run(api: Api, path: str) -> tuple[int, dict[str, object]]:
    body = pilot_body(dataset="imagefolder", dataset_params={"path": path}, dry_run=True)
    response = api.client.post(f"{API}/pilots", json=body)
    return response.status_code, response.json()


@pytest.mark.parametrize("where", ["/etc", "../x", "uploads/../../x", "OUTSIDE", "uploads/link-out"])
def test_paths_outside_the_data_root_are_refused(rooted: Api, tmp_path: Path, where: str) -> None:
    path = str(tmp_path / "secret-place") if where == "OUTSIDE" else where
    status, body = dry_run(rooted, path)
    assert status == 422, body
    errors = body["errors"]
    assert isinstance(errors, list) and errors[0]["field"] == DATASET_PATH_FIELD == "dataset_params.path"
    assert "leads outside the data root DATA_ROOT" in errors[0]["message"]
    assert "uploads/<folder>" in errors[0]["message"]
    if where == "uploads/link-out":  # where the link leads is never told
        assert "secret-place" not in str(body)
    assert rooted.queue.sent == []


@pytest.mark.parametrize("inside", ["uploads/mine", "ABSOLUTE", "uploads/./mine/../mine"])
def test_paths_inside_the_data_root_are_accepted(rooted: Api, inside: str) -> None:
    path = str(rooted.settings.data_root / "uploads" / "mine") if inside == "ABSOLUTE" else inside
    status, body = dry_run(rooted, path)
    assert status == 200, body


def test_only_a_path_parameter_is_checked(tmp_path: Path) -> None:
    assert dataset_path_problem({"n_train": 100}, tmp_path) is None
    assert dataset_path_problem({"path": "a/b"}, tmp_path) is None
    problem = dataset_path_problem({"path": "/etc/ssl"}, tmp_path)
    assert problem is not None and problem.startswith("'/etc/ssl' leads outside the data root DATA_ROOT")
    assert dataset_path_problem({"path": "a\0b"}, tmp_path) is not None


@pytest.mark.parametrize("weights", ["/etc/passwd", "../x.pt", "uploads/link-out/w.pt"])
def test_weights_outside_the_data_root_are_refused(rooted: Api, weights: str) -> None:
    body = pilot_body(model="timm/resnet10t", training={"weights": weights}, dry_run=True)
    response = rooted.client.post(f"{API}/pilots", json=body)
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "training.weights" and "leads outside the data root DATA_ROOT" in error["message"]
    assert "secret-place" not in response.text and rooted.queue.sent == []


@pytest.mark.parametrize("weights", ["weights/r10.pt", "hub"])
def test_weights_inside_the_data_root_or_from_the_hub_are_accepted(rooted: Api, weights: str) -> None:
    body = pilot_body(model="timm/resnet10t", training={"weights": weights}, dry_run=True)
    assert rooted.client.post(f"{API}/pilots", json=body).status_code == 200
