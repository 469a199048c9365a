"""Spending limits: what one pilot, one run and one user may ask of the machines (issue 15).

Every limit is a setting with a safe default (``backend.settings``: ``MAX_RUNS_PER_PILOT``, ...); an admin
raises one for one user (``rblock-pilot user set NAME --limit epochs=5000``, ``PATCH /api/v1/users/NAME``
with ``{"limits": {"epochs": 5000}}``), which the store keeps in ``users.limits``.

They are checked where a pilot is planned (``backend.submission.plan_pilot``: dry runs too), so the
answer is a 422 that names the limit and by how much it is exceeded; the per-run ones are checked again
by the worker before it trains (``check_run``), so a run that reached the queue some other way (an older
version, a hand-edited row) cannot train past them either.

The device memory of a run is estimated before queueing from the model's shape: activations kept for the
backward pass (a per-model factor × width × image area, in fp32, doubled for a two-pass arm) times the
batch, plus weights, gradients and optimizer state. It errs on the large side (bf16 autocast halves much
of it); ``WORKER_MEMORY_GB`` is what one run may use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backend.catalog import Catalog, CatalogError, FieldError, ResolvedPilot
from backend.estimate import image_side
from backend.schemas import Estimate, PilotCreate
from backend.settings import Settings
from backend.store import Store


@dataclass(frozen=True)
class Limit:
    setting: str  # the Settings field (and, upper-cased, the environment variable) with the default
    what: str


# The keys an admin may raise per user, and the setting each one overrides.
LIMITS: dict[str, Limit] = {
    "runs_per_pilot": Limit("max_runs_per_pilot", "runs (arms × seeds) in one pilot"),
    "device_hours_per_pilot": Limit("max_device_hours_per_pilot", "estimated device-hours of one pilot"),
    "active_runs": Limit("max_active_runs_per_user", "queued and running runs of one user"),
    "epochs": Limit("max_epochs", "training epochs of a run"),
    "width": Limit("max_width", "model width"),
    "batch_size": Limit("max_batch_size", "batch size"),
    "image_size": Limit("max_image_size", "image side (pixels)"),
    "budget_cap": Limit("default_budget_cap", "estimated cost of a pilot without its own budget_cap"),
    "upload_quota_bytes": Limit("upload_quota_bytes", "bytes of uploaded datasets one user keeps"),
}

# Per sample: values kept for the backward pass per unit of width × image area (convolution, batch norm
# and activation outputs of every layer; counted from the models' stage shapes), and weights per width².
_ACTIVATIONS_PER_WIDTH_AREA = {"small_cnn": 8.0, "resnet18": 26.0}
_WEIGHTS_PER_WIDTH2 = {"small_cnn": 270.0, "resnet18": 2730.0}
_BYTES = 4  # fp32
_WEIGHT_COPIES = 4  # weights, gradients, momentum, a spare for the optimizer's step
GB = 1e9


class LimitExceeded(CatalogError):
    """A 422 (the app renders ``CatalogError`` so): each item names the limit and the excess."""


def parse_limit(text: str) -> tuple[str, float]:
    """``KEY=VALUE`` of the command line (``epochs=5000``) → the key and a number (``ValueError`` says why)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or key not in LIMITS:
        raise ValueError(f"--limit takes KEY=VALUE with KEY one of {', '.join(LIMITS)} (got {text!r})")
    return key, check_limit_value(key, value.strip())


def check_limit_value(key: str, value: Any) -> float:
    """A limit's value as a positive finite number (``ValueError`` names the key)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"limit {key!r} must be a number (got {value!r})") from None
    if not (number > 0 and number < float("inf")):
        raise ValueError(f"limit {key!r} must be a positive number (got {value!r})")
    return number


def effective(settings: Settings, overrides: Mapping[str, float]) -> dict[str, float | None]:
    """Every limit for one user: the admin's raise where there is one, else the setting."""
    out: dict[str, float | None] = {}
    for key, limit in LIMITS.items():
        default = getattr(settings, limit.setting)
        out[key] = overrides.get(key, float(default) if default is not None else None)
    return out


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3g}"


def _over(field: str, key: str, amount: float, limits: Mapping[str, float | None], noun: str) -> FieldError | None:
    cap = limits[key]
    if cap is None or amount <= cap:
        return None
    setting = LIMITS[key].setting.upper()
    return FieldError(
        field,
        f"{_num(amount)} {noun} is over the limit of {_num(cap)} ({LIMITS[key].what}; {setting}) by "
        f"{_num(amount - cap)}: ask for less, or ask an admin to raise your limit {key!r}",
    )


def memory_gb(*, model: str, width: int, side: int, batch_size: int, passes: int) -> float:
    """Estimated device memory of one training run, GB (see the module docstring)."""
    act = _ACTIVATIONS_PER_WIDTH_AREA.get(model, max(_ACTIVATIONS_PER_WIDTH_AREA.values()))
    weights = _WEIGHTS_PER_WIDTH2.get(model, max(_WEIGHTS_PER_WIDTH2.values()))
    activations = act * width * side * side * _BYTES * passes * batch_size
    return (activations + weights * width * width * _BYTES * _WEIGHT_COPIES) / GB


def run_problems(
    catalog: Catalog, config: Mapping[str, Any], limits: Mapping[str, float | None], settings: Settings
) -> list[FieldError]:
    """The per-run limits a run's config (``TrainConfig.to_dict()`` shape) breaks; empty when it is within."""
    model, dataset = str(config.get("model")), str(config.get("dataset"))
    default_width = catalog.models.get(model, {}).get("params", {}).get("width", {}).get("default", 64)
    width = int(config.get("width") or default_width)
    epochs, batch = int(config.get("epochs") or 0), int(config.get("batch_size") or 0)
    params = dict(config.get("dataset_params") or {})
    side = image_side(catalog, dataset, params) if dataset in catalog.datasets else 32
    passes = int(catalog.arms.get(str(config.get("arm")), {}).get("passes", 2))
    found = [
        _over("training.epochs", "epochs", epochs, limits, "epochs"),
        _over("width", "width", width, limits, "width"),
        _over("training.batch_size", "batch_size", batch, limits, "samples per batch"),
        _over("dataset_params.image_size", "image_size", side, limits, "pixels a side"),
    ]
    need = memory_gb(model=model, width=width, side=side, batch_size=batch, passes=passes)
    if need > settings.worker_memory_gb:
        found.append(
            FieldError(
                "training.batch_size",
                f"one run needs about {need:,.1f} GB of device memory (batch {batch:,} × {passes} pass(es) of "
                f"{model} at width {width}, {side}×{side} images), over the {settings.worker_memory_gb:g} GB a "
                f"worker allows (WORKER_MEMORY_GB) by {need - settings.worker_memory_gb:,.1f} GB: use a smaller "
                "batch_size, width or image size",
            )
        )
    return [problem for problem in found if problem is not None]


def check_pilot(
    request: PilotCreate,
    resolved: ResolvedPilot,
    estimate: Estimate,
    *,
    catalog: Catalog,
    store: Store,
    settings: Settings,
    user: str | None,
) -> None:
    """Raise :class:`LimitExceeded` listing every limit this pilot breaks (for ``user``, with their raises)."""
    check_limits(
        resolved, dataset=request.dataset, model=request.model, width=request.width, runs=estimate.runs,
        new_runs=estimate.runs, device_hours=estimate.device_hours,
        uncapped_cost=estimate.cost if request.budget_cap is None else None, catalog=catalog, store=store,
        settings=settings, user=user, adder="this pilot",
    )  # fmt: skip


def check_limits(
    resolved: ResolvedPilot,
    *,
    dataset: str,
    model: str,
    width: int | None,
    runs: int,
    new_runs: int,
    device_hours: float | None,
    uncapped_cost: float | None,
    catalog: Catalog,
    store: Store,
    settings: Settings,
    user: str | None,
    adder: str,
) -> None:
    """Raise :class:`LimitExceeded` listing every limit broken by a pilot whose totals are ``runs`` and
    ``device_hours`` (``uncapped_cost``: its cost when it has no budget_cap of its own, else None), of which
    ``new_runs`` are queued now by ``adder`` ("this pilot", "this extension"); ``resolved`` holds the arms
    whose memory is checked."""
    limits = effective(settings, store.usage.user_limits(name=user) if user else {})
    problems = _pilot_problems(
        runs=runs, new_runs=new_runs, device_hours=device_hours, limits=limits, store=store, user=user, adder=adder
    )
    cap = limits["budget_cap"]
    if uncapped_cost is not None and cap is not None and uncapped_cost > cap:
        problems.append(
            FieldError(
                "budget_cap",
                f"the estimated cost {uncapped_cost:,.2f} is over the default budget cap {cap:,.2f} "
                f"(DEFAULT_BUDGET_CAP) by {uncapped_cost - cap:,.2f}: use fewer seeds, arms or epochs, or set "
                "budget_cap (an admin can raise your limit 'budget_cap')",
            )
        )
    problems.extend(
        _memory_problems(catalog, resolved, dataset=dataset, model=model, width=width, limits=limits, settings=settings)
    )
    found = [problem for problem in problems if problem is not None]
    if found:
        raise LimitExceeded(found)


def _pilot_problems(
    *,
    runs: int,
    new_runs: int,
    device_hours: float | None,
    limits: Mapping[str, float | None],
    store: Store,
    user: str | None,
    adder: str,
) -> list[FieldError | None]:
    """The pilot-wide limits: its runs and device-hours in all, and the user's queued and running runs."""
    problems = [_over("seeds", "runs_per_pilot", runs, limits, "runs")]
    if device_hours is not None:
        problems.append(_over("training.epochs", "device_hours_per_pilot", device_hours, limits, "device-hours"))
    if user is not None and limits["active_runs"] is not None:
        active = store.usage.active_runs(user_name=user)
        problem = _over("seeds", "active_runs", active + new_runs, limits, "queued and running runs")
        if problem is not None:
            problem = FieldError(problem.field, f"you have {active:,} runs queued or running and {adder} adds "
                                 f"{new_runs:,}: {problem.message}")  # fmt: skip
        problems.append(problem)
    return problems


def _memory_problems(
    catalog: Catalog,
    resolved: ResolvedPilot,
    *,
    dataset: str,
    model: str,
    width: int | None,
    limits: Mapping[str, float | None],
    settings: Settings,
) -> list[FieldError]:
    """The per-run limits (epochs, width, batch, image size, memory) of the arm that needs the most memory."""
    if not resolved.arms:
        return []
    arm = max(resolved.arms, key=lambda a: a.passes)  # the two-pass arms need the most memory
    config = {
        **resolved.training,
        "dataset": dataset,
        "dataset_params": resolved.dataset_params,
        "model": model,
        "width": width,
        "arm": arm.regularizer,
    }
    return list(run_problems(catalog, config, limits, settings))


def check_run(
    catalog: Catalog, config: Mapping[str, Any], *, store: Store, settings: Settings, owner: str | None
) -> str | None:
    """The worker's second check of a run's config: why it may not train (one line), or None."""
    limits = effective(settings, store.usage.user_limits(name=owner) if owner else {})
    problems = run_problems(catalog, config, limits, settings)
    if not problems:
        return None
    return "over a limit: " + "; ".join(f"{p.field}: {p.message}" for p in problems)
