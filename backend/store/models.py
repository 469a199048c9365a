"""SQLAlchemy tables of the store: pilots, arms, runs, metric points, workers, users, decisions.

Rows never leave the store: ``rows.py`` converts them to the plain entities of ``entities.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from backend.store.db import utc_now
from pilot_spec.annotations import TAG_MAX

# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids for the big points table.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class SqlPilot(Base):
    __tablename__ = "pilots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    dataset: Mapped[str] = mapped_column(String(64))
    dataset_params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    model: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    training: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    seeds: Mapped[list[int]] = mapped_column(JSONType, default=list)
    baseline_arm: Mapped[str] = mapped_column(String(64))
    roi: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    budget_cap: Mapped[float | None] = mapped_column(Float, nullable=True)
    queue: Mapped[str] = mapped_column(String(16), default="auto")
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Stop when settled (backend.analysis.sequential): the plan and its looks; open while rounds may follow.
    sequential: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    sequential_open: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # Bumped by every write that changes what the pilot's summary reads (backend/store/versions.py).
    version: Mapped[int | None] = mapped_column(Integer, nullable=True, server_default="0")
    # The owner's notes (backend/store/annotations.py); NULL on pilots from before migration 0011.
    notes: Mapped[str | None] = mapped_column(Text, nullable=True, server_default="")

    arms: Mapped[list[SqlArm]] = relationship(
        back_populates="pilot", cascade="all, delete-orphan", order_by="SqlArm.id"
    )


class SqlArm(Base):
    __tablename__ = "arms"
    __table_args__ = (UniqueConstraint("pilot_id", "name", name="uq_arm_pilot_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    regularizer: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    pilot: Mapped[SqlPilot] = relationship(back_populates="arms")


class SqlRun(Base):
    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("arm_id", "seed", name="uq_run_arm_seed"),
        Index("ix_runs_status_heartbeat", "status", "heartbeat_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    arm_id: Mapped[int] = mapped_column(ForeignKey("arms.id", ondelete="CASCADE"))
    seed: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    queue: Mapped[str] = mapped_column(String(16), default="cpu")
    config: Mapped[dict[str, Any]] = mapped_column(JSONType)
    epochs_total: Mapped[int] = mapped_column(Integer)
    epochs_done: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # When the reconciler last sent this queued run again because the broker seemed to have lost its
    # message (``backend.dispatch``); null: only the send that followed ``queued_at``. Reset with it.
    resent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    worker_host: Mapped[str | None] = mapped_column(String(200), nullable=True)
    device: Mapped[str | None] = mapped_column(String(200), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The cost fields the lists aggregate get columns; the rest of the cost stays in `cost`.
    device_hours: Mapped[float | None] = mapped_column(Float, nullable=True)
    samples_per_second: Mapped[float | None] = mapped_column(Float, nullable=True)
    cost: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    # Device string -> device-hours of the attempts before the run's retries (``retry_run`` adds the last
    # attempt's before clearing ``cost``): the money spent so far counts them, the analysis does not. Per
    # device because each claim writes the device anew, and the hours are priced by the device they ran on.
    earlier_device_hours: Mapped[dict[str, float]] = mapped_column(JSONType, default=dict, server_default="{}")
    final_metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    predictions: Mapped[list[int] | None] = mapped_column(JSONType, nullable=True)
    # The test set's labels in the order of `predictions`: the per-example part of the intervals needs them.
    test_labels: Mapped[list[int] | None] = mapped_column(JSONType, nullable=True)

    arm: Mapped[SqlArm] = relationship()


class SqlMetricPoint(Base):
    """One value of one metric of one run at one epoch; (run, key, epoch) is unique.

    ``value`` holds finite numbers; ``special`` says 1 = NaN, 2 = +inf, 3 = -inf (SQLite turns NaN into
    NULL, so non-finite values are flagged rather than stored).
    """

    __tablename__ = "metric_points"
    __table_args__ = (UniqueConstraint("run_id", "key", "epoch", name="uq_point_run_key_epoch"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    epoch: Mapped[int] = mapped_column(Integer)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    special: Mapped[int] = mapped_column(SmallInteger, default=0)


class SqlMetricSeries(Base):
    """Every point of one (run, key) in one row, derived from ``metric_points`` in the same transaction.

    ``epochs`` and ``values`` are JSON arrays in epoch order (a value is null where ``specials`` has a
    non-zero flag at the same position, as in ``metric_points``). Reading a whole pilot's curves is then
    a few hundred rows instead of tens of thousands: the dashboard's hot path.
    """

    __tablename__ = "metric_series"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    epochs: Mapped[str] = mapped_column(Text)
    values: Mapped[str] = mapped_column(Text)
    specials: Mapped[str] = mapped_column(Text)
    # The newest epoch, so that the usual write (the next epoch) appends to the arrays in SQL without
    # reading them.
    last_epoch: Mapped[int] = mapped_column(Integer)


class SqlWorker(Base):
    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    device: Mapped[str] = mapped_column(String(200))
    queues: Mapped[list[str]] = mapped_column(JSONType, default=list)
    current_run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SqlUser(Base):
    """Someone who may sign in. ``password_hash`` is an argon2 hash made by ``backend.auth`` (never plain)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    # Set for a password someone else chose (the first admin's, one from `user add`): the pages ask for a
    # new one before anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    # An admin's raises of the spending limits for this user ({"epochs": 5000, ...}); null: the defaults.
    limits: Mapped[dict[str, float] | None] = mapped_column(JSON, nullable=True)


class SqlApiToken(Base):
    """A bearer token for scripts and the CLI; only its SHA-256 is kept (it is random, 256 bits: no salt needed)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to tell tokens apart in lists
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SqlLoginSession(Base):
    """A browser session: the cookie holds a random id, the table its SHA-256, the user and the CSRF token."""

    __tablename__ = "login_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SqlDecision(Base):
    """A manager's decision on a pilot (issue 11 §5): append-only, never updated; it goes with its pilot.

    ``summary`` is the canonical JSON text of the summary the decision rested on, kept as text rather than
    JSON(B) so that its SHA-256 (``summary_sha256``) can be recomputed from exactly the stored bytes: JSONB
    would reorder keys and renormalise numbers. ``decided_by`` is a user name, not a key: the record
    outlives any change to the user.
    """

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    arm: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    summary_sha256: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text)


class SqlInstallation(Base):
    """One row (id 1): facts about this deployment as a whole, such as the id of its artifact store."""

    __tablename__ = "installation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    artifact_store_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SqlLease(Base):
    """A named lease (backend/store/lease.py): which process does a singleton job, such as reconciling, until when."""

    __tablename__ = "service_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SqlPilotTag(Base):
    """One tag of a pilot (``pilot_spec.annotations``): a row each, so that a search can match a tag by index."""

    __tablename__ = "pilot_tags"

    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(TAG_MAX), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(SmallInteger)  # the order the owner gave
