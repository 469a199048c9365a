"""Benchmark: our DropBlock against torchvision's (and timm's), and two-pass arms against their twins.

Not a test. Prints each figure beside a baseline measured in the same run, as a ratio:

1. Forward + backward time of ``rblock.DropBlock2d`` (per-channel masks, calibrated) against
   ``torchvision.ops.drop_block2d`` (per-channel) and timm's ``DropBlock2d`` when timm is installed
   (``pip install -e '.[bench]'``), on (128, 64, 32, 32) with block 5 and (128, 128, 16, 16) with block 3,
   p = 0.1. Goal: ours at most 0.5x torchvision's time.
2. Realised drop rate of each on 32, 16 and 8 pixel maps (target 0.1).
3. Training-step time of each two-pass arm against its one-pass twin (rdrop vs dropout, rblock_s vs
   dropblock, rblock_b vs spatial_dropout), 32x32 inputs, with the shared trunk (rblock.shared_trunk) and,
   for comparison, the concatenated pass ``model(cat([x, x]))``. Beside each ratio, its FLOP floor
   (trunk + 2·rest) / (trunk + rest) from ``torch.utils.flop_counter``. Goals on the CPU: at most 1.65x on
   small_cnn (width 32, batch 128; floor 1.49x) and 1.35x on resnet18 (width 16, batch 64; floor 1.24x).

Run: ``.venv/bin/python bench/regularizers.py`` (``--quick`` for a short smoke run, ``--sections 3`` for the
two-pass figures alone, ``--cpu-clock`` to time them by CPU time on one thread when others share the machine).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torchvision.ops import drop_block2d as tv_drop_block2d
from two_pass import GOALS, TWINS, flop_floor, train_step

from rblock import drop_block_2d
from rblock.device import tune_cpu_allocator

try:
    from timm.layers import drop_block_2d as timm_drop_block_2d
except ImportError:  # timm is a bench-only extra
    timm_drop_block_2d = None


def _median_ms(fn: Callable[[], None], warmup: int, reps: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _ops(block: int) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    ops: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "rblock DropBlock2d (per channel)": lambda x: drop_block_2d(x, 0.1, block),
        "rblock DropBlock2d (shared)": lambda x: drop_block_2d(x, 0.1, block, shared_channels=True),
        "torchvision drop_block2d": lambda x: tv_drop_block2d(x, 0.1, block, training=True),
    }
    if timm_drop_block_2d is not None:
        ops["timm drop_block_2d (per channel)"] = lambda x: timm_drop_block_2d(x, 0.1, block, couple_channels=False)
        ops["timm drop_block_2d (shared)"] = lambda x: timm_drop_block_2d(x, 0.1, block)
    ops["F.dropout (reference)"] = lambda x: F.dropout(x, 0.1)
    return ops


def bench_speed(quick: bool) -> None:
    print("\n## 1. DropBlock forward + backward, p = 0.1 (median ms; ratio to torchvision in the same run)")
    reps = 3 if quick else 15
    for shape, block in (((128, 64, 32, 32), 5), ((128, 128, 16, 16), 3)):
        x = torch.randn(shape, requires_grad=True)
        grad = torch.ones(shape)
        ops = _ops(block)
        # Interleave rounds so that a slow spell of the machine hits every op alike.
        samples: dict[str, list[float]] = {name: [] for name in ops}
        for _ in range(3):
            for name, op in ops.items():
                samples[name].append(_median_ms(lambda op=op, x=x, grad=grad: op(x).backward(grad), 2, reps))
        baseline = statistics.median(samples["torchvision drop_block2d"])
        print(f"\n{shape}, block {block}")
        for name, values in samples.items():
            ms = statistics.median(values)
            print(f"  {name:36s} {ms:8.1f} ms   {ms / baseline:5.2f}x torchvision")


def bench_rates() -> None:
    print("\n## 2. Realised drop rate, target 0.1 (batch 64 x 32 channels, mean of 10 draws)")
    rows = []
    for size in (32, 16, 8):
        for block in (3, 5):
            ops = _ops(block)
            cells = []
            for name, op in ops.items():
                if name.startswith("F.dropout"):
                    continue
                x = torch.ones(64, 32, size, size)
                with torch.no_grad():
                    rate = sum((op(x) == 0).float().mean().item() for _ in range(10)) / 10
                cells.append(f"{name.split(' (')[0].split()[0]}{' shared' if 'shared' in name else ''}={rate:.4f}")
            rows.append(f"  {size:2d}x{size:<2d} block {block}: " + "  ".join(cells))
    print("\n".join(rows))


# (model, width, batch): the shapes of issue 13's goals for two-pass step / one-pass twin on the CPU.
TWO_PASS_SHAPES = (("small_cnn", 32, 128), ("resnet18", 16, 64))


def bench_two_pass(quick: bool, steps: int | None = None, cpu_clock: bool = False) -> None:
    # train_run tunes glibc's allocator on the CPU (rblock.device.tune_cpu_allocator); do what it does.
    tuned = tune_cpu_allocator()
    print("\n## 3. Training step, 32x32, two-pass arm against its one-pass twin (median ms, same run)")
    print("  shared: the trunk before the first drop site runs once; concat: model(cat([x, x])), as before")
    print(f"  (CPU allocator tuned as train_run does: {tuned})")
    # On a machine shared with other jobs, wall time mostly measures the others; the CPU time of the one
    # thread that runs the step (intra-op threads off) counts only this step's own work.
    clock = time.thread_time if cpu_clock else time.perf_counter
    print(f"  (clock: {'CPU time of the stepping thread, 1 thread' if cpu_clock else 'wall'})")
    steps = steps or (5 if quick else 30)
    for model_name, width, batch in TWO_PASS_SHAPES:
        floor, trunk = flop_floor(model_name, width)
        goal = GOALS[model_name]
        print(f"\n{model_name} width {width}, batch {batch}: FLOP floor {floor:.2f}x (trunk {trunk:.0%} of the FLOPs)")
        x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
        for two, one in TWINS:
            runs = {
                one: train_step(one, model_name, width, x, y),
                two: train_step(two, model_name, width, x, y),
                "concat": train_step(two, model_name, width, x, y, shared=False),
            }
            times: dict[str, list[float]] = {name: [] for name in runs}
            for step in runs.values():  # warm-up
                step()
                step()
            names = list(runs)
            for i in range(steps):  # interleave step by step, rotating the order, so drift hits all alike
                for name in names[i % 3 :] + names[: i % 3]:
                    start = clock()
                    runs[name]()
                    times[name].append(clock() - start)
            t1, t2, tc = (1000 * statistics.median(times[n]) for n in (one, two, "concat"))
            print(
                f"  {two:9s} {t2:7.1f} ms  {one:16s} {t1:7.1f} ms  ratio {t2 / t1:4.2f}x "
                f"(floor {floor:.2f}x, goal <= {goal:.2f}x; concat {tc / t1:4.2f}x)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions: a smoke run, not a measurement")
    parser.add_argument("--sections", default="1,2,3", help="comma-separated sections to run (default all)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per arm in section 3 (default 30)")
    parser.add_argument(
        "--cpu-clock", action="store_true", help="section 3 on one thread, timed by its CPU time (a busy machine)"
    )
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    torch.set_num_threads(1 if args.cpu_clock else os.cpu_count() or 1)
    print(f"# bench/regularizers.py on {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores,")
    print(
        f"# torch {torch.__version__}, threads {torch.get_num_threads()}, timm {'yes' if timm_drop_block_2d else 'no'}"
    )
    print(f"# MALLOC_MMAP_THRESHOLD_={os.environ.get('MALLOC_MMAP_THRESHOLD_', 'unset')}")
    if "1" in sections:
        bench_speed(args.quick)
    if "2" in sections:
        bench_rates()
    if "3" in sections:
        bench_two_pass(args.quick, args.steps, args.cpu_clock)


if __name__ == "__main__":
    main()
