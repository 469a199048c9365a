"""The ``rblock-pilot`` command.

``rblock-pilot train`` runs a whole pilot (every arm × seed) in this process, with no server: a progress
line per run, then a table per arm. The ``rblock-pilot`` entry point (``pilot_cli``) dispatches here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pilot_spec.device import DEVICE_GRAMMAR
from pilot_spec.metrics import ECE, FLIP_RATE, INCONSISTENCY_KL
from pilot_spec.status import RunStatus
from pilot_spec.training import TRAINING
from rblock.config import TrainConfig
from rblock.metrics import seed_churn
from rblock.regularizer import ARMS


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # a bare word such as a path or a pairing name
    return key, value


# The training settings that are options of `train` under their own names (help, default and choices from
# pilot_spec.training): each option goes to the TrainConfig field of the same name.
_DATA_SETTINGS = ("data_seed", "label_noise")
_TRAINING_SETTINGS = (
    "epochs", "batch_size", "optimizer", "lr", "lr_schedule", "warmup_epochs", "weight_decay", "label_smoothing",
    "eval_every",
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rblock-pilot", description="R-Block Pilot: is R-Block worth its cost?")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = commands.add_parser(
        "train",
        help="train every arm x seed locally and print a comparison table",
        description="Train every arm x seed of a pilot in this process (no server) and compare the arms.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    train.add_argument("--dataset", default="digits", help="dataset name (digits, shapes, cifar10, ...)")
    train.add_argument(
        "--dataset-param", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
        help="a dataset parameter, e.g. n_train=2000 or path=/data/pets (repeatable)",
    )  # fmt: skip
    for name in _DATA_SETTINGS:
        _add_setting(train, name)
    train.add_argument("--model", default="small_cnn", help="small_cnn or resnet18")
    train.add_argument("--width", type=int, default=None, help="base width of the model (default: the model's)")
    train.add_argument("--arms", default="none,dropblock,rblock_s", help=f"comma-separated arms of {', '.join(ARMS)}")
    train.add_argument(
        "--arm-param", action="append", type=_key_value, default=[], metavar="ARM.KEY=VALUE",
        help="an arm parameter, e.g. rblock_s.alpha=0.5 or dropblock.block_size=5 (repeatable)",
    )  # fmt: skip
    train.add_argument("--seeds", type=int, default=3, help="seeds per arm (0 .. N-1)")
    for name in _TRAINING_SETTINGS:
        _add_setting(train, name)
    train.add_argument("--device", default="auto", help=DEVICE_GRAMMAR)
    train.add_argument("--no-bf16", action="store_true", help="train in float32 on CUDA too")
    train.add_argument("--checkpoint-dir", type=Path, default=None, help="checkpoint each run here and resume")
    train.add_argument("--json", type=Path, default=None, metavar="FILE", help="write every run's result here")
    return parser


def _add_setting(parser: argparse.ArgumentParser, name: str) -> None:
    """An option for one of the training settings, with its default, help and choices from pilot_spec."""
    setting = TRAINING[name]
    kind = {"integer": int, "number": float, "string": str}[setting.kind]
    choices = None if setting.enum is None else list(setting.enum)
    flag = "--" + name.replace("_", "-")
    parser.add_argument(flag, type=kind, default=setting.default, choices=choices, help=setting.help)


def _configs(args: argparse.Namespace) -> list[TrainConfig]:
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    if not arms:
        raise ValueError("--arms needs at least one arm")
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        raise ValueError(f"unknown arm(s) {', '.join(unknown)}: use {', '.join(ARMS)}")
    if args.seeds < 1:
        raise ValueError("--seeds must be at least 1")
    arm_params: dict[str, dict[str, Any]] = {arm: {} for arm in arms}
    for key, value in args.arm_param:
        arm, _, name = key.partition(".")
        if arm not in arm_params or not name:
            raise ValueError(f"--arm-param {key}: write ARM.KEY=VALUE for one of the chosen arms ({', '.join(arms)})")
        arm_params[arm][name] = value
    settings = {name: getattr(args, name) for name in (*_DATA_SETTINGS, *_TRAINING_SETTINGS)}
    return [
        TrainConfig(
            dataset=args.dataset,
            dataset_params=dict(args.dataset_param),
            model=args.model,
            width=args.width,
            arm=arm,
            arm_params=arm_params[arm],
            seed=seed,
            device=args.device,
            bf16=not args.no_bf16,
            **settings,
        )
        for arm in arms
        for seed in range(args.seeds)
    ]


def _mean_std(values: Sequence[float | None], digits: int = 4) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "-"
    mean = statistics.fmean(present)
    if len(present) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(present):.{digits}f}"


def summary_table(results: Sequence[dict[str, Any]]) -> str:
    """One row per arm: mean ± std over seeds of the final metrics, and the arm's seed churn.

    ``device s`` is the run's cost (the robust device time of its training steps, ``rblock.step_clock``);
    ``wall s`` the whole run, evaluation and any waiting included.
    """
    by_arm: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        by_arm.setdefault(result["config"]["arm"], []).append(result)
    header = ("arm", "seeds", "test acc", "device s", "wall s", "inconsistency", "flip rate", "ECE", "seed churn")
    rows = [header]
    for arm, runs in by_arm.items():
        done = [r for r in runs if r["status"] == RunStatus.SUCCEEDED]
        churn = seed_churn([_as_tensor(r["predictions"]) for r in done])
        rows.append(
            (
                arm,
                str(len(done)),
                _mean_std([r["final_test_acc"] for r in done]),
                _mean_std([r["cost"]["device_seconds"] for r in done], 1),
                _mean_std([r["cost"]["wall_seconds"] for r in done], 1),
                _mean_std([r["final_metrics"].get(INCONSISTENCY_KL) for r in done]),
                _mean_std([r["final_metrics"].get(FLIP_RATE) for r in done]),
                _mean_std([r["final_metrics"].get(ECE) for r in done]),
                "-" if churn is None else f"{churn:.4f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _as_tensor(predictions: list[int]) -> Any:
    import torch

    return torch.tensor(predictions, dtype=torch.long)


def _train(args: argparse.Namespace) -> int:
    from rblock.train import train_run

    configs = _configs(args)
    results: list[dict[str, Any]] = []
    started = time.perf_counter()
    for index, config in enumerate(configs, 1):
        label = f"[{index}/{len(configs)}] {config.arm} seed {config.seed}"

        def progress(epoch: int, metrics: dict[str, float], label: str = label, total: int = config.epochs) -> None:
            filled = round(20 * epoch / total)
            print(
                f"\r{label} [{'#' * filled}{'.' * (20 - filled)}] epoch {epoch}/{total} "
                f"test acc {metrics['test_acc']:.4f}",
                end="",
                file=sys.stderr,
                flush=True,
            )

        checkpoint = None
        if args.checkpoint_dir is not None:
            checkpoint = args.checkpoint_dir / f"{config.arm}-seed{config.seed}"
        result = train_run(config, on_epoch=progress, checkpoint_dir=checkpoint)
        cost = result.cost
        print(f"  ({cost['device_seconds']:.1f} s device, {cost['wall_seconds']:.1f} s wall)", file=sys.stderr)
        results.append(result.to_dict())
    print()
    print(summary_table(results))
    print(f"\n{len(configs)} runs in {time.perf_counter() - started:.1f} s")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"runs": results}, indent=1))
        print(f"results written to {args.json}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _train(args)
    except ValueError as error:  # ConfigError, DatasetError, DeviceError and bad flags all say what to fix
        print(f"rblock-pilot: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nrblock-pilot: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
