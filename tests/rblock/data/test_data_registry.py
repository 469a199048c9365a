"""The dataset registry: names, descriptions, parameter validation, normalisation and the split type."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from rblock.data import DATASETS, DatasetError, DatasetSplit, describe_datasets, load_dataset, resolve_data_root


def test_dataset_names() -> None:
    assert DATASETS == ("digits", "shapes", "cifar10", "cifar100", "mnist", "fashion_mnist", "svhn", "imagefolder")


def test_describe_datasets_is_json() -> None:
    described = describe_datasets()
    assert tuple(described) == DATASETS
    assert json.loads(json.dumps(described)) == described
    for entry in described.values():
        assert entry["description"] and set(entry) == {"description", "params"}
        for param in entry["params"].values():
            assert {"default", "help", "type"} <= set(param) and param["help"]
            allowed_keys = {"default", "help", "type", "allowed", "required", "minimum", "maximum", "enum", "nullable"}
            assert set(param) <= allowed_keys
    assert described["shapes"]["params"]["n_train"]["minimum"] == 10
    assert described["shapes"]["params"]["difficulty"]["default"] == 0.5
    assert described["imagefolder"]["params"]["path"]["default"] is None
    assert set(described["digits"]["params"]) == {"image_size"}  # every image set can be resized
    assert described["digits"]["params"]["image_size"]["default"] is None


def test_unknown_dataset_lists_names() -> None:
    with pytest.raises(DatasetError, match="known: digits, shapes, cifar10"):
        load_dataset("imagenet")
    assert issubclass(DatasetError, ValueError)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_trian": 10}, r"unknown parameter\(s\) \['n_trian'\].*allowed: difficulty, image_size, n_test, n_train"),
        ({"n_train": -5}, "n_train.*an integer >= 10"),
        ({"n_train": 12.5}, "n_train"),
        ({"n_train": True}, "n_train"),
        ({"n_train": "100"}, "n_train"),
        ({"difficulty": 1.5}, r"difficulty.*\[0, 1\]"),
        ({"difficulty": float("nan")}, "difficulty"),
        ({"data_seed": -1}, "data_seed"),
        ({"data_seed": 2**32}, "data_seed"),
        ({"label_noise": -0.1}, "label_noise"),
    ],
)
def test_bad_values(params: dict[str, object], match: str) -> None:
    with pytest.raises(DatasetError, match=match):
        load_dataset("shapes", **params)  # type: ignore[arg-type]


def test_unknown_param_for_a_set_with_only_image_size() -> None:
    with pytest.raises(DatasetError, match=r"allowed: image_size$"):
        load_dataset("digits", n_train=10)


def test_integral_floats_accepted_and_normalised() -> None:
    ds = load_dataset("shapes", n_train=100.0, n_test=50, difficulty=1)
    assert ds.train_x.shape[0] == 100
    # Per-channel mean 0 and std 1 on the train split; the test split uses the same statistics.
    assert torch.allclose(ds.train_x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(ds.train_x.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-4)
    assert len(ds.mean) == 3 and all(s > 0 for s in ds.std)


def test_split_type() -> None:
    ds = load_dataset("shapes", n_train=20, n_test=10)
    assert isinstance(ds, DatasetSplit) and ds.in_channels == 3 and ds.image_size == (32, 32)
    assert "tensor" not in repr(ds)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.augment = False  # type: ignore[misc]
    assert dataclasses.replace(ds, augment=False).augment is False
    with pytest.raises(DatasetError, match="int64"):
        dataclasses.replace(ds, train_y=ds.train_y.int())


def test_data_root_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DATA_ROOT", raising=False)
    assert resolve_data_root().parts[-2:] == ("var", "data")
    monkeypatch.setenv("DATA_ROOT", str(tmp_path))
    assert str(resolve_data_root()) == str(tmp_path)
    assert str(resolve_data_root("/elsewhere")) == "/elsewhere"
