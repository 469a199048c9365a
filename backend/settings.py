"""Settings of the service, from the environment (docs/design.md §5): one object for the API and the worker.

The worker imports this module, so it imports pydantic and pydantic-settings only (no FastAPI, no
Celery). Every default is embedded, so one command runs the whole service on a laptop: SQLite for the
data, kombu's SQLAlchemy transport on a second SQLite file for the broker, artifacts under ``var/``.
Production sets ``DATABASE_URL=postgresql+psycopg://...`` and ``BROKER_URL=redis://...``.

Environment names are the field names in upper case: ``DATABASE_URL``, ``BROKER_URL``, ``ARTIFACT_DIR``,
``DATA_ROOT``, ``PRICE_PER_HOUR`` (JSON, e.g. ``{"cpu": 0.05, "cuda": 2.5}``), ``CURRENCY`` (``CODE:SYMBOL``, e.g.
``EUR:€``; the prices, costs and ROI are in it), ``HEARTBEAT_TIMEOUT_S``,
``MAX_ATTEMPTS``, ``RECONCILE_EVERY_S``, and the dataset upload caps ``UPLOAD_MAX_BYTES``,
``UPLOAD_MAX_UNCOMPRESSED_BYTES``, ``UPLOAD_MAX_FILES``, ``UPLOAD_MAX_RATIO``, and sign-in's
``SESSION_HOURS``, ``COOKIE_SECURE``, ``LOGIN_MAX_FAILURES``, ``LOGIN_WINDOW_S``, and ``API_THREADS``, and
``SHARED_ARTIFACTS`` (workers check that ``ARTIFACT_DIR`` is the store the API sees).
``TRUSTED_PROXIES`` (empty: nobody's ``X-Forwarded-*`` is believed) and the spending limits ``MAX_*``,
``WORKER_MEMORY_GB``, ``DEFAULT_BUDGET_CAP``, ``UPLOAD_QUOTA_BYTES`` (``backend.quotas``; an admin raises them
per user) are the hardening of issue 15.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from backend.files import private_file
from pilot_spec.device import device_kind
from pilot_spec.money import DEFAULT_CURRENCY, Currency

# Currency per device-hour by device kind (the part of a device string before ':'); a full device string
# such as "cuda:NVIDIA H100 80GB HBM3" overrides its kind. Rough cloud list prices; set your own.
DEFAULT_PRICES: dict[str, float] = {"cpu": 0.05, "cuda": 2.5}


class Settings(BaseSettings):
    """Everything a deployable needs to find its database, broker, files and prices."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: str = Field(default="sqlite:///var/pilot.db", description="SQLAlchemy URL of the database")
    broker_url: str = Field(
        default="sqla+sqlite:///var/broker.db", description="Celery broker URL (redis://... in production)"
    )
    artifact_dir: Path = Field(
        default=Path("var/artifacts"), description="checkpoints and run files (shared by all workers)"
    )
    shared_artifacts: bool = Field(
        default=False,
        description="ARTIFACT_DIR is a store shared by the API and every worker: a worker refuses to start unless it "
        "holds the marker the API wrote there (pilot_cli.artifact_store)",
    )
    data_root: Path = Field(
        default=Path("var/data"), description="where datasets' files live (cifar-10-batches-py, ...)"
    )
    price_per_hour: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES),
        description="currency per device-hour by device kind ('cpu', 'cuda') or full device string",
    )
    # NoDecode: the environment's "USD:$" reaches the validator as it is, not as JSON.
    currency: Annotated[Currency, NoDecode] = Field(
        default=DEFAULT_CURRENCY,
        description="the currency of prices, costs and ROI inputs, as CODE:SYMBOL (USD:$, EUR:€, GBP:£) or CODE",
    )
    heartbeat_timeout_s: float = Field(default=60.0, gt=0, description="a running run with an older heartbeat is stale")
    max_attempts: int = Field(default=3, ge=1, description="attempts before a run whose worker keeps vanishing fails")
    reconcile_every_s: float = Field(default=10.0, gt=0, description="how often the API requeues stale runs")
    upload_max_bytes: int = Field(default=200 * 2**20, ge=1, description="largest dataset zip accepted (bytes)")
    upload_max_uncompressed_bytes: int = Field(
        default=2**30, ge=1, description="largest total size of a dataset zip's files once extracted (bytes)"
    )
    upload_max_files: int = Field(default=50_000, ge=1, description="most files in one dataset zip")
    upload_max_ratio: float = Field(
        default=100.0, gt=1, description="highest compression ratio of a zip entry, or of the whole zip (zip bombs)"
    )

    api_threads: int = Field(
        default=40, ge=1, le=1000, description="threads that run the API's database-bound handlers concurrently"
    )
    api_concurrency: int = Field(
        default=8,
        ge=0,
        le=1000,
        description="GET requests one API process works on at once, the rest queue in arrival order; 0: no limit",
    )
    auth_cache_s: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="seconds a process keeps a sign-in it looked up (a revocation made by another API process "
        "takes effect within this); 0: look up every request",
    )
    session_hours: float = Field(default=12.0, gt=0, description="how long a browser sign-in lasts (hours)")
    cookie_secure: bool | None = Field(
        default=None,
        description="mark the session cookie Secure; unset: when the request came over https (TLS or a proxy's "
        "X-Forwarded-Proto with uvicorn --proxy-headers)",
    )
    login_max_failures: int = Field(
        default=5, ge=1, description="failed sign-ins per user name (x4 per client address) before a pause"
    )
    login_window_s: float = Field(default=300.0, gt=0, description="the window (and pause) of that limit, seconds")
    trusted_proxies: str = Field(
        default="",
        description="comma-separated addresses (or CIDR ranges) of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed; empty: none (a client could otherwise pick its own address)",
    )

    # Spending limits (backend.quotas): safe defaults a legitimate pilot stays far below; an admin raises
    # them per user (`rblock-pilot user set NAME --limit KEY=VALUE`).
    max_runs_per_pilot: int = Field(default=100, ge=1, description="most runs (arms x seeds) in one pilot")
    max_device_hours_per_pilot: float = Field(default=200.0, gt=0, description="most estimated device-hours a pilot")
    max_active_runs_per_user: int = Field(default=500, ge=1, description="most queued + running runs of one user")
    max_epochs: int = Field(default=1000, ge=1, description="most training epochs of a run")
    max_width: int = Field(default=512, ge=1, description="widest model base width")
    max_batch_size: int = Field(default=4096, ge=2, description="largest batch size")
    max_image_size: int = Field(default=256, ge=4, description="largest image side a run trains on (pixels)")
    worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="CPU priority (Unix niceness) a worker trains at: above 0, pages and API requests on the same "
        "machine win the CPU over training (docs/design.md §6); 0 leaves it as started",
    )
    worker_memory_gb: float = Field(
        default=16.0, gt=0, description="device memory one run may need (estimated before queueing), GB"
    )
    default_budget_cap: float | None = Field(
        default=1000.0, gt=0, description="cap on a pilot's estimated cost when it sets no budget_cap; unset: none"
    )
    upload_quota_bytes: int = Field(
        default=5 * 2**30, ge=0, description="extracted bytes of datasets one user may keep"
    )
    upload_max_image_pixels: int = Field(
        default=25_000_000, ge=1, description="most pixels of one uploaded image (read from its header)"
    )

    @field_validator("database_url", "broker_url")
    @classmethod
    def _absolute_sqlite(cls, url: str) -> str:
        return resolve_sqlite_url(url)

    @field_validator("artifact_dir", "data_root")
    @classmethod
    def _absolute_path(cls, path: Path) -> Path:
        # Absolute, so that a worker started from another directory finds the same files.
        return path.expanduser().resolve()

    @field_validator("price_per_hour")
    @classmethod
    def _finite_prices(cls, prices: dict[str, float]) -> dict[str, float]:
        bad = {device: price for device, price in prices.items() if not (math.isfinite(price) and price >= 0)}
        if bad:
            raise ValueError(f"prices per hour must be finite numbers >= 0 (got {bad})")
        return prices

    @field_validator("currency", mode="before")
    @classmethod
    def _parse_currency(cls, value: object) -> object:
        return Currency.parse(value) if isinstance(value, str) else value

    @property
    def workers_seen_within_s(self) -> float:
        """A worker counts as online (health, /workers, /metrics, ``auto`` routing) while it was seen this recently:
        two heartbeat timeouts. An idle worker reports twice per window (worker/lifecycle.py)."""
        return 2 * self.heartbeat_timeout_s

    def price_for(self, device: str) -> float | None:
        """Price per hour of a device string ('cuda:NVIDIA H100 ...', 'cuda', 'cpu'); None if not priced."""
        if device in self.price_per_hour:
            return self.price_per_hour[device]
        return self.price_per_hour.get(device_kind(device))


def resolve_sqlite_url(url: str) -> str:
    """Make a SQLite URL's relative path absolute (against the current directory) and create its folder.

    ``sqlite:///var/pilot.db`` names a path relative to wherever the process started; the API and the
    worker must agree on one file, so it is pinned here. Memory databases and other URLs pass unchanged.
    Works for SQLAlchemy URLs (``sqlite:``, ``sqlite+pysqlite:``) and kombu's (``sqla+sqlite:``).
    """
    scheme, sep, rest = url.partition("://")
    if not sep or "sqlite" not in scheme.split("+") or not rest.startswith("/"):
        return url
    path, query_sep, query = rest[1:].partition("?")
    if path in ("", ":memory:") or path.startswith("file:"):
        return url
    file = Path(path).expanduser()
    if not file.is_absolute():
        file = Path.cwd() / file
    file.parent.mkdir(parents=True, exist_ok=True)
    private_file(file)
    return f"{scheme}:///{file.as_posix()}{query_sep}{query}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
