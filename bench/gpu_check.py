"""GPU check, for a lent GPU: every arm for one epoch on shapes with bfloat16 and channels-last.

Not a test; finishes well inside 8 minutes on one H100. For ``resnet18`` and ``small_cnn`` on ``shapes``
(32x32), it trains every arm for one epoch (after a short warm-up epoch) and prints samples/s per arm,
each two-pass arm's step-time ratio to its one-pass twin beside its FLOP floor (bench/two_pass.py; the
CPU goals are 1.65x for small_cnn and 1.35x for resnet18), and the ratio of
``train_run`` (arm ``none``) to a plain DataLoader loop on the same GPU (goal >= 3x: the data live on the
GPU, no per-sample Python).

Then the zoo (issue 12 §3): ``timm/resnet50`` at 224 px, fine-tuned from pretrained-style weights (a
1000-class checkpoint the script writes, loaded with the head re-initialised for 10 classes), on random
images held on the GPU: images/s per arm, each two-pass arm's ratio to its one-pass twin, and the peak
memory. CUDA only: elsewhere it prints one skip line.

Run: ``python bench/gpu_check.py`` on a CUDA machine; ``--quick`` runs a small version anywhere,
``--zoo-only`` only the timm part.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from plain_loop import plain_loop_samples_per_second
from two_pass import GOALS, TWINS, flop_floor

from rblock import ARMS, create_regularizer
from rblock.config import TrainConfig
from rblock.data import load_dataset
from rblock.device import device_name, resolve_device
from rblock.models import create_model, describe_models
from rblock.train import train_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run that also works on the CPU")
    parser.add_argument("--zoo-only", action="store_true", help="only timm/resnet50 at 224 px")
    args = parser.parse_args()
    device = resolve_device("auto")
    if args.zoo_only:
        zoo_check(device)
        return
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
    zoo_check(device)
    print(f"\n# total {time.perf_counter() - started:.0f} s")


ZOO_MODEL, ZOO_SIDE, ZOO_BATCH, ZOO_CLASSES = "timm/resnet50", 224, 128, 10
ZOO_WARMUP, ZOO_STEPS = 5, 20


def zoo_check(device: torch.device) -> None:
    """timm/resnet50 at 224 px from a weights file: images/s per arm, two-pass ratios, peak memory."""
    title = f"## {ZOO_MODEL} at {ZOO_SIDE} px, batch {ZOO_BATCH}, bf16 + channels_last, from a weights file"
    if device.type != "cuda":
        print(f"\n{title}: skipped, no CUDA device here (it needs a GPU)")
        return
    print(f"\n{title}")
    # Pretrained-style weights: an ImageNet-shaped (1000-class) checkpoint, as a team would bring.
    weights = Path(tempfile.mkdtemp()) / "resnet50_1000_classes.pth"
    torch.manual_seed(0)
    source = create_model(ZOO_MODEL, in_channels=3, num_classes=1000)
    torch.save({"state_dict": source.state_dict(), "arch": "resnet50"}, weights)
    generator = torch.Generator(device).manual_seed(0)
    x = torch.randn(ZOO_BATCH, 3, ZOO_SIDE, ZOO_SIDE, device=device, generator=generator)
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, ZOO_CLASSES, (ZOO_BATCH,), device=device, generator=generator)
    rates: dict[str, float] = {}
    for arm in ARMS:
        reg = create_regularizer(arm)
        model = create_model(
            ZOO_MODEL, in_channels=3, num_classes=ZOO_CLASSES, drop_layer=reg.drop_layer, weights=weights
        )
        model = model.to(device, memory_format=torch.channels_last).train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        torch.cuda.reset_peak_memory_stats(device)
        start = time.perf_counter()
        for step in range(ZOO_WARMUP + ZOO_STEPS):
            if step == ZOO_WARMUP:  # the warm-up steps pay for cuDNN autotuning and the allocator
                torch.cuda.synchronize(device)
                start = time.perf_counter()
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss, _ = reg.loss(model, x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        torch.cuda.synchronize(device)
        rates[arm] = ZOO_STEPS * ZOO_BATCH / (time.perf_counter() - start)
        peak = torch.cuda.max_memory_allocated(device) / 2**30
        print(f"  {arm:16s} {rates[arm]:9.0f} images/s   peak {peak:5.2f} GiB   loss {loss.item():.3f}")
        del model, optimizer
    for two, one in TWINS:
        print(f"  two-pass {two:9s}/{one:16s} step-time ratio {rates[one] / rates[two]:4.2f}x")


if __name__ == "__main__":
    main()
