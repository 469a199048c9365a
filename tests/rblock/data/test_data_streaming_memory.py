"""One streamed epoch stays within the data memory budget (measured: ``bench/streaming.py`` in a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "streaming.py"


def test_a_streamed_epoch_holds_less_than_the_budget() -> None:
    budget = 150_000_000  # the set needs ~166 MB in memory (uint8 + float32), so it streams
    command = [sys.executable, str(BENCH), "--images", "1200", "--side", "96", "--batch", "32"]
    command += ["--budget", str(budget), "--allocator", "mmap", "--json"]
    env = {**os.environ, "PYTHONPATH": str(BENCH.parents[1])}
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env, timeout=300).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["in_memory_peak_bytes"] > budget  # the in-memory path would not have fitted
    assert 0 < result["data_peak_bytes"] <= budget, result
    assert result["loader_workers"] >= 1 and result["train_images_per_second"] > 0
