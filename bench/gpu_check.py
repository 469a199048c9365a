"""GPU check, for a lent GPU: every arm for one epoch on shapes with bfloat16 and channels-last.

Not a test; finishes well inside 8 minutes on one H100. For ``resnet18`` and ``small_cnn`` on ``shapes``
(32x32), it trains every arm for one epoch (after a short warm-up epoch) and prints samples/s per arm,
each two-pass arm's step-time ratio to its one-pass twin beside its FLOP floor (bench/two_pass.py; the
CPU goals are 1.65x for small_cnn and 1.35x for resnet18), and the ratio of
``train_run`` (arm ``none``) to a plain DataLoader loop on the same GPU (goal >= 3x: the data live on the
GPU, no per-sample Python).

Run: ``python bench/gpu_check.py`` on a CUDA machine; ``--quick`` runs a small version anywhere.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
from plain_loop import plain_loop_samples_per_second
from two_pass import GOALS, TWINS, flop_floor

from rblock import ARMS
from rblock.config import TrainConfig
from rblock.data import load_dataset
from rblock.device import device_name, resolve_device
from rblock.models import create_model, describe_models
from rblock.train import train_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run that also works on the CPU")
    args = parser.parse_args()
    device = resolve_device("auto")
    n_train = 2000 if args.quick else 50_000
    batch = 128 if args.quick else 512
    params = {"n_train": n_train, "n_test": 1000 if args.quick else 10_000}
    print(f"# bench/gpu_check.py on {device_name(device)}, {platform.machine()}, {os.cpu_count()} CPU cores")
    print(f"# torch {torch.__version__}, shapes n_train={n_train}, batch {batch}, bf16 + channels_last on CUDA")
    started = time.perf_counter()
    data = load_dataset("shapes", **params)
    print(f"# shapes generated in {time.perf_counter() - started:.1f} s")
    models = ("small_cnn",) if args.quick else ("small_cnn", "resnet18")
    for model_name in models:
        print(f"\n## {model_name}")
        rates: dict[str, float] = {}
        for arm in ARMS:
            config = TrainConfig(
                dataset="shapes",
                dataset_params=params,
                model=model_name,
                arm=arm,
                epochs=2,
                batch_size=batch,
                lr=0.1,
                device=str(device),
            )
            result = train_run(config)
            rates[arm] = result.history[-1]["samples_per_second"]  # epoch 1 warms up (cuDNN autotune, caches)
            peak = result.cost["peak_memory_bytes"] / 2**30
            print(
                f"  {arm:16s} {rates[arm]:9.0f} samples/s   test acc {result.final_test_acc:.3f}   "
                f"peak {peak:5.2f} GiB   energy {result.cost['energy_joules']}"
            )
        # Two-pass arms share their trunk (rblock.shared_trunk): the floor is the FLOP ratio, not 2x.
        floor, _ = flop_floor(model_name, describe_models()[model_name]["params"]["width"]["default"])
        for two, one in TWINS:
            print(
                f"  two-pass {two:9s}/{one:16s} step-time ratio {rates[one] / rates[two]:4.2f}x "
                f"(FLOP floor {floor:.2f}x, CPU goal <= {GOALS[model_name]:.2f}x)"
            )
        torch.manual_seed(0)
        model = create_model(model_name, in_channels=3, num_classes=10)
        cuda = device.type == "cuda"
        plain = plain_loop_samples_per_second(
            model,
            data.train_x,
            data.train_y,
            batch_size=batch,
            epochs=2,
            device=device,
            bf16=cuda,
            channels_last=cuda,
        )
        p = statistics.median(plain[1:])
        print(
            f"  plain DataLoader loop {p:9.0f} samples/s; "
            f"train_run(none) / plain = {rates['none'] / p:4.2f}x (goal >= 3x)"
        )
    print(f"\n# total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
