"""train_run on a streamed set (over the memory budget) matches the in-memory run; weights come from the data
root only, normalised as the weights expect."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rblock.config import TrainConfig
from rblock.data import DatasetError, memory
from rblock.data.memory import DATA_MEMORY_ENV
from rblock.models import create_model
from rblock.train import train_run
from tests.support.images import noise_folder


def _config(**overrides: object) -> TrainConfig:
    values: dict[str, object] = {
        "dataset": "imagefolder",
        "dataset_params": {"path": "images", "image_size": 16},
        "model": "small_cnn",
        "width": 4,
        "arm": "rblock_s",
        "epochs": 2,
        "batch_size": 8,
        "stability_masks": 2,
        "device": "cpu",
    }
    values.update(overrides)
    return TrainConfig.from_dict(values)


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    noise_folder(tmp_path / "images", per_class=60)
    monkeypatch.setenv("DATA_ROOT", str(tmp_path))
    monkeypatch.setattr(memory, "LOADER_PROCESS_BYTES", 0)  # a few-kB budget streams these tiny sets
    return tmp_path


@pytest.mark.usefixtures("data_root")
def test_a_streamed_run_matches_the_in_memory_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_MEMORY_ENV, str(2**30))
    in_memory = train_run(_config())
    # In memory the 180 images of 16² px need ~690 kB; streamed in batches of 8, ~210 kB.
    monkeypatch.setenv(DATA_MEMORY_ENV, "400000")
    streamed = train_run(_config())
    assert in_memory.labels == streamed.labels  # the same test order
    assert [h["train_loss"] for h in streamed.history] == pytest.approx([h["train_loss"] for h in in_memory.history])
    for key in ("test_loss", "test_acc", "ece"):
        assert streamed.final_metrics[key] == pytest.approx(in_memory.final_metrics[key], rel=1e-5), key
    # The sub-model masks are drawn per evaluation batch, and a streamed set is evaluated in training-size
    # batches: other draws of the same random quantities, so only present and in range here.
    assert 0 <= streamed.final_metrics["flip_rate"] <= 1 and streamed.final_metrics["inconsistency_kl"] >= 0


def test_weights_load_from_inside_the_data_root_only(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    start = create_model("small_cnn", in_channels=3, num_classes=10, width=4)
    (data_root / "starts").mkdir()
    torch.save(start.state_dict(), data_root / "starts" / "small.pt")
    result = train_run(_config(weights="starts/small.pt", epochs=1, arm="none"))
    assert result.status == "succeeded"
    outside = tmp_path_factory.mktemp("elsewhere") / "small.pt"
    torch.save(start.state_dict(), outside)
    for path in (str(outside), "../" + outside.parent.name + "/small.pt"):
        with pytest.raises(DatasetError, match=r"weights .* leads outside the data root .*weights/<file>"):
            train_run(_config(weights=path, epochs=1, arm="none"))
    (data_root / "starts" / "link.pt").symlink_to(outside)
    with pytest.raises(DatasetError, match=r"weights 'starts/link\.pt' leads outside") as refused:
        train_run(_config(weights="starts/link.pt", epochs=1, arm="none"))
    assert str(outside.parent) not in str(refused.value)  # where the link leads is never said
