"""Benchmark: the peak memory of one streamed epoch of an image folder, against the data memory budget.

Not a test (``tests/rblock/data/test_data_streaming_memory.py`` runs a small one). It writes an ImageFolder of
``--images`` random-noise PNGs at ``--side`` px (noise: PNG cannot compress it, so decoding costs what a
photo's does), then runs, in a fresh Python process, ``open_dataset`` with ``--budget`` bytes (below the
set's in-memory size, so it streams) and one epoch of train batches (crop + flip, batch ``--batch``) plus
the test batches, touching each batch as a training step would read it.

Memory is the PSS (proportional set size: shared pages divided among the processes sharing them) of the
anonymous and shared-memory pages, summed over the process and its loader processes (file pages, torch's
libraries above all, are left out: their share moves with every other process on the machine that maps the
same files, by hundreds of MB on a shared machine), sampled every 5 ms from ``/proc/<pid>/smaps_rollup`` (a
level counts when two samples in a row reach it: one read across a fork counts the parent's pages twice); RSS
would count the parent's pages once per forked loader. The figure set against the budget is the peak minus the
baseline taken after the imports, before the dataset is opened (the data's share, not torch's libraries);
``ru_maxrss`` of the process and of its reaped children is reported too.

Run: ``.venv/bin/python bench/streaming.py --images 2000 --side 128 --budget 256000000`` (``--json`` for one
JSON line, ``--in-memory`` to measure the in-memory path on the same set, ``--allocator mmap`` to leave out
what glibc keeps for reuse).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

CLASSES = 4
SAMPLE_EVERY_S = 0.005


def make_imagefolder(root: Path, images: int, side: int) -> Path:
    """``images`` noise PNGs of ``side`` px in ``CLASSES`` class folders under ``root``."""
    rng = np.random.default_rng(0)
    for i in range(images):
        folder = root / f"class{i % CLASSES}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(folder / f"{i:06d}.png")
    return root


def _pss_kb(pid: int) -> int:
    """The process's share of anonymous and shared-memory pages, kB (its file pages are left out, see above)."""
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
    except OSError:  # the process ended between listing and reading
        return 0
    return sum(int(fields[key].split()[0]) for key in ("Pss_Anon", "Pss_Shmem") if key in fields)


def _family(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo.extend(int(c) for c in (task / "children").read_text().split())
    return pids


class PeakPss:
    """The peak of this process's and its descendants' summed PSS, sampled in a thread."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self.at_peak: dict[int, int] = {}  # pid: PSS kB at the peak
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        previous: dict[int, int] = {}
        while not self._stop.is_set():
            sizes = {p: _pss_kb(p) for p in _family(os.getpid())}
            # The processes are read one after another, not at one instant: read across a fork, the parent's
            # pages count in full and again in the child's share. A level held over two samples is real.
            held = min(sum(sizes.values()), sum(previous.values()))
            if held > self.peak_kb:
                self.peak_kb, self.at_peak = held, sizes
            previous = sizes
            time.sleep(SAMPLE_EVERY_S)

    def __enter__(self) -> PeakPss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def child(args: argparse.Namespace) -> dict[str, Any]:
    """One streamed epoch in this process: the measurement."""
    import torch

    from rblock.data import StreamingSplit, batches_for, open_dataset
    from rblock.data.memory import Footprint
    from rblock.data.streaming import streamed_batches

    torch.set_num_threads(1)
    with PeakPss() as peak:
        time.sleep(0.5)  # the sampler's own thread and buffers belong to the baseline, not to the data
        baseline_kb = sum(_pss_kb(p) for p in _family(os.getpid()))
        peak.peak_kb = 0
        start = time.perf_counter()
        budget = 2**40 if args.in_memory else args.budget  # --in-memory: the path a large budget takes, to compare
        data = open_dataset("imagefolder", data_root=args.root, path="set", image_size=args.side, memory_budget=budget)
        if isinstance(data, StreamingSplit):
            train: Any = streamed_batches(data, args.batch, train=True, shuffle=True, augment=True, drop_last=True)
        elif args.in_memory:
            train = batches_for(data, args.batch, train=True, shuffle=True, augment=True, drop_last=True)
        else:
            raise SystemExit("the set fits the budget in memory: raise --images or lower --budget")
        seen, checksum = 0, 0.0
        for x, y in train.epoch(0):
            checksum += float(x.mean()) + float(y.sum())  # read the batch, as a step would
            seen += x.shape[0]
        for x, _ in batches_for(data, args.batch, train=False, shuffle=False).epoch(0):
            checksum += float(x.mean())
        workers = getattr(train, "workers", 0)
        del train
    seconds = time.perf_counter() - start
    size = Footprint(args.images, 3, args.side, args.side)
    return {
        "path": "in-memory" if args.in_memory else "streamed",
        "allocator": args.allocator,
        "images": args.images,
        "side": args.side,
        "batch": args.batch,
        "loader_workers": workers,
        "budget_bytes": args.budget,
        "in_memory_uint8_bytes": size.uint8_bytes,
        "in_memory_peak_bytes": size.in_memory_peak_bytes,
        "baseline_pss_bytes": baseline_kb * 1024,
        "peak_pss_bytes": peak.peak_kb * 1024,
        "data_peak_bytes": (peak.peak_kb - baseline_kb) * 1024,
        "ru_maxrss_self_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "ru_maxrss_children_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
        "processes_at_peak": len(peak.at_peak),
        "pss_at_peak_kb": sorted(peak.at_peak.values(), reverse=True),
        "epoch_seconds": seconds,
        "train_images_per_second": seen / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--side", type=int, default=128)
    parser.add_argument("--budget", type=int, default=256_000_000, help="DATA_MEMORY_BYTES for the run")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument(
        "--allocator",
        choices=("default", "mmap"),
        default="default",
        help="mmap: glibc returns every block over 1 MiB on free (MALLOC_MMAP_THRESHOLD_), so the peak shows what "
        "is held rather than what the allocator keeps for reuse",
    )
    parser.add_argument("--in-memory", action="store_true", help="measure the in-memory path instead, to compare")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)  # set in the child
    args = parser.parse_args()
    if args.root is not None:
        print(json.dumps(child(args)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        make_imagefolder(Path(tmp) / "set", args.images, args.side)
        command = [sys.executable, __file__, *sys.argv[1:], "--root", tmp]
        env = dict(os.environ)
        if args.allocator == "mmap":
            env["MALLOC_MMAP_THRESHOLD_"] = str(2**20)
        out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    result = json.loads(out.strip().splitlines()[-1])
    if args.json:
        print(json.dumps(result))
        return
    mib = 2**20
    for key, value in result.items():
        if key.endswith("_bytes"):
            shown = f"{value / mib:,.1f} MiB"
        elif isinstance(value, int | float):
            shown = f"{value:,.4g}"
        else:
            shown = str(value)
        print(f"{key:28s} {shown}")
    verdict = "within" if result["data_peak_bytes"] <= result["budget_bytes"] else "OVER"
    print(f"{result['path']} epoch's data memory is {verdict} the budget")


if __name__ == "__main__":
    main()
