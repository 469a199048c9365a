"""The API's request and response bodies (pydantic), which are also its OpenAPI documentation.

Requests are strict (``true`` is not an integer, ``"3"`` is not a number) and forbid unknown fields, so a
typo is a 422 that names the field instead of a silently ignored setting. Numbers must be finite. Text
may be any Unicode except NUL and lone surrogates, which no database column can hold.

Units: device-hours are hours of one device (one GPU, or one CPU worker); money is in the currency of
the price table (``PRICE_PER_HOUR``), and ``budget_cap`` is money in that currency.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema, model_validator

from pilot_spec.annotations import NOTES_MAX, TAG_MAX, TAG_RULE, TAGS_MAX, check_tag, unique_tags
from pilot_spec.status import PilotStatus
from pilot_spec.text import clean_text
from pilot_spec.training import MAX_SEED as MAX_SEED  # re-exported: the API's seeds are the runs' seeds

MAX_SEEDS = 50
MAX_ARMS = 20


# Length limits come before the text check, so that their messages speak of characters.
Label = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(clean_text)]
NAME_MAX = 200
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX), AfterValidator(clean_text)]
ShortText = Annotated[str, Field(max_length=200), AfterValidator(clean_text)]
LongText = Annotated[str, Field(max_length=20_000), AfterValidator(clean_text)]


def check_seeds(value: Any) -> int | list[int]:
    """A count 1..MAX_SEEDS or a list of 1..MAX_SEEDS distinct seeds in 0..MAX_SEED (one clear message)."""
    allowed = f"a count from 1 to {MAX_SEEDS}, or a list of 1 to {MAX_SEEDS} distinct integers from 0 to 2^31-1"
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= MAX_SEEDS:
            raise ValueError(f"must be {allowed} (got {value!r:.40})")
        return value
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_SEEDS:
        raise ValueError(f"must be {allowed} (got {value!r:.40})")
    for seed in value:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise ValueError(f"must be {allowed} (got the item {seed!r:.40})")
    repeated = sorted({s for s in value if value.count(s) > 1})
    if repeated:
        raise ValueError(f"must list each seed once (repeated: {', '.join(map(str, repeated))})")
    return list(value)


Seeds = Annotated[
    int | list[int],
    PlainValidator(check_seeds),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": MAX_SEEDS},
                {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 0, "maximum": MAX_SEED},
                    "minItems": 1,
                    "maxItems": MAX_SEEDS,
                    "uniqueItems": True,
                },
            ]
        }
    ),
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ArmSpec(_Request):
    """One arm: a label unique within the pilot, a regularizer from the catalog, and its parameters."""

    name: Label | None = Field(default=None, description="label within the pilot (default: the regularizer's name)")
    regularizer: Label = Field(description="an arm kind: GET /api/v1/catalog/arms")
    params: dict[str, Any] = Field(default_factory=dict, description="the arm's parameters; missing ones default")

    @property
    def label(self) -> str:
        return self.name if self.name is not None else self.regularizer


# Money and volumes up to 10^15: enough for any business, and products of them stay finite.
MAX_AMOUNT = 1e15
NonNegative = Annotated[float, Field(ge=0, le=MAX_AMOUNT)]


class RoiInputs(_Request):
    """A manager's inputs for the ROI of each arm against the baseline (docs/design.md §4); all in [0, 10^15]."""

    predictions_per_year: NonNegative = 0.0
    cost_per_error: NonNegative = Field(default=0.0, description="money lost by one wrong prediction")
    cost_per_changed_prediction: NonNegative = Field(
        default=0.0, description="money one changed answer between retrains costs"
    )
    retrains_per_year: NonNegative = 0.0
    price_per_device_hour: NonNegative | None = Field(
        default=None, description="overrides PRICE_PER_HOUR for this pilot's estimate and cost"
    )


class SequentialSpec(_Request):
    """Stop when settled: queue the seeds ``round`` at a time, stop once every verdict is settled, at most
    ``max_seeds`` (``backend.analysis.sequential``)."""

    max_seeds: Annotated[int, Field(ge=2, le=MAX_SEEDS)] = Field(description=f"most seeds per arm, 2..{MAX_SEEDS}")
    round: Annotated[int, Field(ge=2, le=MAX_SEEDS)] = Field(
        description="seeds per round (2 at least: one seed gives no interval), at most max_seeds"
    )

    @model_validator(mode="after")
    def _round_fits(self) -> SequentialSpec:
        if self.round > self.max_seeds:
            raise ValueError(f"round ({self.round}) must be at most max_seeds ({self.max_seeds})")
        return self


class PilotCreate(_Request):
    """A pilot to create: one run per arm × seed, on shared data, model and training settings."""

    name: Name
    description: LongText = ""
    dataset: Label = Field(description="GET /api/v1/catalog/datasets")
    dataset_params: dict[str, Any] = Field(default_factory=dict)
    model: Label = Field(default="small_cnn", description="GET /api/v1/catalog/models")
    width: int | None = Field(default=None, description="model base width, 1..1024 (null: the model's default)")
    training: dict[str, Any] = Field(
        default_factory=dict,
        description="shared training settings (epochs, batch_size, optimizer, lr, ...): GET /api/v1/catalog/training",
    )
    arms: list[ArmSpec] = Field(min_length=1, max_length=MAX_ARMS)
    seeds: Seeds = Field(default=3, description=f"a count (1..{MAX_SEEDS}: seeds 0..n-1) or a list of distinct seeds")
    baseline_arm: Label | None = Field(default=None, description="default: the arm named 'none', else the first arm")
    queue: Literal["auto", "gpu", "cpu"] = Field(default="auto", description="auto: gpu when a GPU worker is alive")
    roi: RoiInputs = Field(default_factory=RoiInputs)
    budget_cap: Annotated[float, Field(gt=0, le=MAX_AMOUNT)] | None = Field(
        default=None, description="most money (currency of PRICE_PER_HOUR) the estimated cost may reach; null: no cap"
    )
    sequential: SequentialSpec | None = Field(
        default=None, description="stop when settled: seeds come a round at a time (seeds: omit, or the round's)"
    )
    dry_run: bool = Field(default=False, description="true: validate and estimate only, queue nothing (200, not 201)")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "digits: R-Block against dropout",
                    "dataset": "digits",
                    "model": "small_cnn",
                    "training": {"epochs": 5},
                    "arms": [{"regularizer": "none"}, {"regularizer": "dropout"}, {"regularizer": "rblock_s"}],
                    "seeds": 3,
                    "dry_run": True,
                }
            ]
        }
    )

    def seed_list(self) -> list[int]:
        if self.sequential is not None and "seeds" not in self.model_fields_set:
            return list(range(self.sequential.round))  # the first round
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)


class PilotExtend(_Request):
    """More seeds for every arm, and/or more arms on every seed, of an existing pilot (at least one)."""

    seeds: Annotated[int, Field(ge=1, le=MAX_SEEDS)] | None = Field(
        default=None, description="how many new seeds every arm gets, numbered after the pilot's highest seed"
    )
    arms: list[ArmSpec] | None = Field(
        default=None,
        max_length=MAX_ARMS,
        description="new arms (as a new pilot's), run on every seed of the pilot, the new ones included",
    )
    budget_cap: Annotated[float, Field(gt=0, le=MAX_AMOUNT)] | None = Field(
        default=None, description="a new cap on the pilot's total cost (kept with the pilot); null: keep its cap"
    )
    dry_run: bool = Field(default=False, description="true: validate and estimate only, queue nothing (200, not 201)")


Tag = Annotated[str, Field(max_length=TAG_MAX), AfterValidator(check_tag)]


class PilotPatch(_Request):
    """The owner's notes and tags on a pilot (at least one); each replaces what was there."""

    notes: Annotated[str, Field(max_length=NOTES_MAX), AfterValidator(clean_text)] | None = Field(
        default=None, description=f'free text, up to {NOTES_MAX:,} characters; "" clears it'
    )
    tags: Annotated[list[Tag], Field(max_length=TAGS_MAX), AfterValidator(unique_tags)] | None = Field(
        default=None, description=f"up to {TAGS_MAX} tags, each {TAG_RULE}; [] clears them"
    )

    @model_validator(mode="after")
    def _something(self) -> PilotPatch:
        if self.notes is None and self.tags is None:
            raise ValueError("send notes, tags or both")
        return self


# -- responses ------------------------------------------------------------------------------------------


class ErrorItem(BaseModel):
    field: str = Field(description="path of the offending field, e.g. arms[2].params.drop_prob")
    message: str


class ErrorOut(BaseModel):
    """Every error response: one readable line, and for 422 each field's problem."""

    detail: str
    errors: list[ErrorItem] = Field(default_factory=list)


class ArmOut(BaseModel):
    id: int
    name: str
    regularizer: str
    params: dict[str, Any]


class RunOut(BaseModel):
    id: int
    pilot_id: int
    arm_id: int
    arm: str
    seed: int
    status: str
    attempts: int
    queue: str
    epochs_done: int
    epochs_total: int
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    worker_host: str | None
    device: str | None
    cancel_requested: bool
    error: str | None
    cost: dict[str, Any] | None = Field(description="device_hours, device_kind, device_name, samples_per_second, ...")
    final_metrics: dict[str, Any] | None
    config: dict[str, Any] = Field(description="the full training config (rblock TrainConfig.to_dict())")
    earlier_device_hours: dict[str, float] = Field(
        default_factory=dict,
        description="device string -> device-hours of the attempts before its retries: in the pilot's cost so "
        "far, not in `cost` (the last attempt's, which the analysis reads)",
    )


class Progress(BaseModel):
    status: PilotStatus = Field(description="derived from its runs' statuses (pilot_spec.status.pilot_status)")
    runs_by_status: dict[str, int]
    epochs_done: int
    epochs_total: int
    fraction: float = Field(description="epochs done / epochs total, 0..1")
    device_hours: float = Field(description="device-hours of the finished runs and of retried runs' earlier attempts")
    cost: float | None = Field(
        description="money spent so far; null in lists (read the pilot) or when a device has no price"
    )
    started_at: datetime | None
    finished_at: datetime | None


DecisionKind = Literal["adopt", "reject", "defer"]
DECISIONS: tuple[str, ...] = get_args(DecisionKind)
NOTE_MAX = 2000


class DecisionCreate(_Request):
    """A manager's decision on a pilot (issue 11 §5): recorded with a snapshot of the summary, never changed."""

    decision: DecisionKind = Field(description="adopt, reject or defer")
    arm: Label = Field(description="the arm the decision is about: one of the pilot's arms")
    note: Annotated[str, Field(max_length=NOTE_MAX), AfterValidator(clean_text)] = Field(
        default="", description=f"why, in up to {NOTE_MAX:,} characters"
    )


class DecisionOut(BaseModel):
    id: int
    pilot_id: int
    decision: str = Field(description="adopt, reject or defer")
    arm: str
    note: str
    decided_by: str = Field(description="the user who recorded it")
    decided_at: datetime = Field(description="when, in UTC")
    provisional: bool = Field(description="runs were still queued or running: the numbers could still change")
    summary_sha256: str = Field(description="SHA-256 of the snapshot as canonical JSON (sorted keys, no spaces)")


class DecisionDetail(DecisionOut):
    summary: dict[str, Any] = Field(
        description="the summary the decision rested on, as GET /pilots/{id}/summary?curves=none returned it"
    )


class DecisionList(BaseModel):
    decisions: list[DecisionOut] = Field(description="newest first")


class PilotOut(BaseModel):
    id: int
    name: str
    description: str
    dataset: str
    dataset_params: dict[str, Any]
    model: str
    width: int | None
    training: dict[str, Any]
    seeds: list[int]
    baseline_arm: str
    roi: dict[str, Any]
    budget_cap: float | None
    queue: str = Field(description="as requested: auto, gpu or cpu (each run records the queue it went to)")
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    arms: list[ArmOut]
    progress: Progress
    latest_decision: DecisionOut | None = Field(default=None, description="in lists: the newest decision")
    sequential: dict[str, Any] | None = Field(
        default=None, description="a sequential pilot's plan and looks (max_seeds, round, stopped, rule, history)"
    )
    notes: str = Field(default="", description="the owner's notes (PATCH /pilots/{id})")
    tags: list[str] = Field(default_factory=list, description="the owner's tags (PATCH /pilots/{id})")


class PilotDetail(PilotOut):
    runs: list[RunOut]


class PilotPage(BaseModel):
    items: list[PilotOut]
    total: int
    offset: int
    limit: int


class ArmEstimate(BaseModel):
    arm: str
    regularizer: str
    passes: int = Field(description="forward/backward passes per sample (2 for R-Drop and R-Block)")
    runs: int
    samples_per_run: int | None = Field(description="epochs × training images × passes")
    samples_per_second: float | None = Field(description="assumed throughput of this arm, in pass-samples/s")
    device_hours: float | None = Field(description="all runs of this arm: device time of the training steps")
    eval_hours: float | None = Field(
        default=None, description="evaluation and stability metrics on top (hold a worker, not in the cost)"
    )
    cost: float | None


class Estimate(BaseModel):
    """Device-hours and money before anything is queued; null where the size of the data is unknown."""

    basis: Literal["history", "reference", "unknown"] = Field(
        description="history: median samples/s of earlier succeeded runs; reference: a built-in table"
    )
    device_kind: str
    history_runs: int = Field(description="earlier runs the history median is taken over")
    price_per_device_hour: float | None
    runs: int
    device_hours: float | None = Field(description="device time of the training steps, what the runs' cost records")
    eval_hours: float | None = Field(default=None, description="evaluation on top of device_hours, not in the cost")
    cost: float | None
    budget_cap: float | None
    arms: list[ArmEstimate]
    notes: list[str]


class PilotSubmission(BaseModel):
    """The answer to POST /pilots: the estimate, and unless dry_run the pilot with its queued runs."""

    dry_run: bool
    queue: str = Field(description="the queue the runs go (or would go) to: gpu or cpu")
    baseline_arm: str
    seeds: list[int]
    estimate: Estimate
    pilot: PilotDetail | None


class ExtensionTotal(BaseModel):
    """What the pilot costs in all once extended: what the budget cap is checked against."""

    existing_runs: int
    existing_device_hours: float | None = Field(description="measured for finished runs, estimated for the others")
    existing_cost: float | None
    device_hours: float | None = Field(description="existing + the new runs' estimate")
    cost: float | None
    budget_cap: float | None


class ExtensionOut(BaseModel):
    """The answer to POST /pilots/{id}/extend: the new seeds and arms, their estimate, the pilot's total."""

    dry_run: bool
    queue: str
    seeds: list[int] = Field(description="the pilot's new seeds (every arm runs them)")
    arms: list[str] = Field(description="the pilot's new arms (they run on every seed)")
    estimate: Estimate = Field(description="of the new runs only")
    total: ExtensionTotal
    runs: list[RunOut] = Field(description="the new runs, queued seed by seed (empty for a dry run)")


class CancelOut(BaseModel):
    changed: list[RunOut] = Field(description="the runs this request cancelled or marked cancelling")


class MetricPointOut(BaseModel):
    run_id: int
    key: str
    epoch: int
    value: float | None = Field(description="null when the value is not finite; see nonfinite")
    nonfinite: Literal["NaN", "Infinity", "-Infinity"] | None = Field(description="set only when value is null")


class MetricsOut(BaseModel):
    points: list[MetricPointOut] = Field(description="long format, by run, key and epoch")


class MetricColumnsOut(BaseModel):
    """The long-format table by column (``format=columns``): element i of each array is one point."""

    columns: dict[str, list[Any]] = Field(description="run_id, key, epoch and value arrays of equal length")
    nonfinite: list[tuple[int, Literal["NaN", "Infinity", "-Infinity"]]] = Field(
        description="[index, which] for every point whose value is null because it is not finite"
    )


class WorkerOut(BaseModel):
    name: str
    host: str | None = Field(description="the machine it runs on (admins only: null for other roles)")
    device: str
    queues: list[str]
    current_run_id: int | None
    last_seen: datetime


class WorkersOut(BaseModel):
    workers: list[WorkerOut]
    queue_depths: dict[str, int | None] = Field(description="messages waiting per queue; null where unknown")
    seen_within_s: float


class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    database: str | None = Field(
        description="'ok', or why the database cannot be reached (signed-in callers only: null for anonymous ones)"
    )
    workers: int | None = Field(description="workers seen within two heartbeat timeouts (signed-in callers only)")
