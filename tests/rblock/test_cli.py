"""rblock-pilot train: a real local pilot, its table and JSON, and clear messages for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rblock.cli import main


def test_train_prints_a_table_per_arm_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results.json"
    code = main(
        [
            "train",
            "--arms",
            "none,rblock_b",
            "--seeds",
            "2",
            "--epochs",
            "1",
            "--width",
            "16",
            "--device",
            "cpu",
            "--arm-param",
            "rblock_b.groups=4",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr()
    table = printed.out
    assert "test acc" in table and "seed churn" in table and "inconsistency" in table
    rows = {line.split()[0]: line for line in table.splitlines() if line.startswith(("none ", "rblock_b "))}
    assert set(rows) == {"none", "rblock_b"}
    assert " ± " in rows["none"]
    assert "epoch 1/1" in printed.err
    assert "device s" in table and "wall s" in table and " s device, " in printed.err  # the cost beside wall time
    runs = json.loads(out.read_text())["runs"]
    assert len(runs) == 4
    assert {r["config"]["arm"] for r in runs} == {"none", "rblock_b"}
    assert all(r["config"]["arm_params"].get("groups", 4) == 4 for r in runs)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--arms", "none,magic"], "unknown arm(s) magic"),
        (["train", "--arms", "rdrop", "--arm-param", "rdrop.alpha=-2"], "rdrop.alpha must be a number >= 0 and <= 100"),
        (["train", "--arms", "none", "--arm-param", "rdrop.alpha=1"], "for one of the chosen arms"),
        (["train", "--dataset", "imagenet"], "dataset must be one of"),
        (["train", "--seeds", "0"], "--seeds must be at least 1"),
        (["train", "--dataset", "cifar10", "--seeds", "1", "--epochs", "1"], "cifar-10-batches-py"),
    ],
)
def test_bad_input_gives_a_message_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATA_ROOT", str(tmp_path))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("rblock-pilot: error:") and message in err
    assert "Traceback" not in err


def test_help_documents_every_option() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rblock.cli", "train", "--help"], capture_output=True, text=True, check=True
    )
    for option in ("--dataset", "--arms", "--arm-param", "--seeds", "--epochs", "--json", "--device", "--lr-schedule"):
        assert option in done.stdout
