"""Benchmark: training throughput of ``train_run`` against a plain DataLoader loop, and two-pass ratios.

Not a test. On the CPU, same process, same model (small_cnn, width 32), data (shapes, 32x32, no
augmentation on either side) and batch size (128):

1. ``train_run`` samples/s (arm ``none``) / plain loop samples/s. Goal >= 1.0x: our metrics, drop-rate
   bookkeeping and per-epoch checkpoints cost nothing noticeable.
2. Each two-pass arm's step time against its one-pass twin, from ``train_run``'s own samples/s
   (rdrop/dropout, rblock_s/dropblock, rblock_b/spatial_dropout).

Run: ``.venv/bin/python bench/training.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile

import torch
from plain_loop import plain_loop_samples_per_second

from rblock.config import TrainConfig
from rblock.data import load_dataset
from rblock.models import create_model
from rblock.train import train_run


def _train_run_rate(config: TrainConfig, checkpoint: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        result = train_run(config, checkpoint_dir=tmp if checkpoint else None)
    rates = [h["samples_per_second"] for h in result.history[1:]]  # epoch 1 warms up
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run, not a measurement")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    n_train = 1000 if args.quick else 4000
    epochs = 2 if args.quick else 3
    rounds = 1 if args.quick else 3
    params = {"n_train": n_train, "n_test": 500}
    print(f"# bench/training.py on {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    print(f"# shapes n_train={n_train}, small_cnn width 32, batch 128, {epochs} epochs per measurement (first dropped)")

    data = load_dataset("shapes", **params)
    base = {
        "dataset": "shapes",
        "dataset_params": params,
        "augment": False,
        "model": "small_cnn",
        "width": 32,
        "batch_size": 128,
        "epochs": epochs,
        "device": "cpu",
    }
    ours, ours_ckpt, plain = [], [], []
    for _ in range(rounds):  # interleave so that a slow spell hits both sides alike
        ours.append(_train_run_rate(TrainConfig(**base), checkpoint=False))
        ours_ckpt.append(_train_run_rate(TrainConfig(**base), checkpoint=True))
        torch.manual_seed(0)
        model = create_model("small_cnn", in_channels=3, num_classes=10, width=32)
        rates = plain_loop_samples_per_second(
            model, data.train_x, data.train_y, batch_size=128, epochs=epochs, device=torch.device("cpu")
        )
        plain.append(statistics.median(rates[1:]))
    o, oc, p = statistics.median(ours), statistics.median(ours_ckpt), statistics.median(plain)
    print("\n## 1. Throughput (median samples/s over rounds)")
    print(f"  plain DataLoader loop         {p:8.0f} samples/s")
    print(f"  train_run                     {o:8.0f} samples/s   {o / p:5.2f}x plain (goal >= 1.0x)")
    print(f"  train_run + checkpoints       {oc:8.0f} samples/s   {oc / p:5.2f}x plain")

    print("\n## 2. Two-pass arms against their one-pass twins (train_run samples/s, unique samples)")
    for two, one in (("rdrop", "dropout"), ("rblock_s", "dropblock"), ("rblock_b", "spatial_dropout")):
        r1 = _train_run_rate(TrainConfig(**base, arm=one), checkpoint=False)
        r2 = _train_run_rate(TrainConfig(**base, arm=two), checkpoint=False)
        print(f"  {two:9s} {r2:7.0f}/s   {one:16s} {r1:7.0f}/s   step-time ratio {r1 / r2:4.2f}x")


if __name__ == "__main__":
    main()
