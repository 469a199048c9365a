"""The store: every read and write of pilots, runs, metric points and workers, as plain entities.

``Store`` is the one front object the API, the worker and the CLI hold. Its methods come from its parts,
one concept each: ``pilots.py`` (pilots and their progress), ``runs.py`` (the run life cycle),
``metrics.py`` (the metric series) and ``workers.py`` (workers and cost history); the smaller stores hang
off it as attributes (``store.accounts``, ``store.decisions``, ...). Its interface, with what each method
promises, is :class:`backend.store.interface.PilotStore`.

Each public method is keyword-only, runs in its own transaction and returns entities (``entities.py``):
SQLAlchemy rows never leave the store. The same code runs on SQLite and PostgreSQL. Run state changes
are conditional updates, so two workers, or a worker and the reconciler, cannot both win a transition.
"""

from __future__ import annotations

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from backend.store import schema
from backend.store.accounts import Accounts
from backend.store.annotations import Annotations
from backend.store.db import StoreUnavailable, make_engine
from backend.store.decisions import Decisions
from backend.store.extension import Extensions
from backend.store.installation import Installation
from backend.store.lease import Leases
from backend.store.metrics import Metrics
from backend.store.pilots import Pilots
from backend.store.runs import Runs
from backend.store.usage import Usage
from backend.store.versions import Versions
from backend.store.workers import Workers


class Store(Pilots, Runs, Metrics, Workers):
    """The data-access layer; its interface is :class:`backend.store.interface.PilotStore`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.accounts = Accounts(self._sessions)
        self.decisions = Decisions(self._sessions)
        self.annotations = Annotations(self._sessions)
        self.installation = Installation(self._sessions)
        self.extensions = Extensions(self._sessions)
        self.usage = Usage(self._sessions)
        self.versions = Versions(self.engine)
        self.leases = Leases(self._sessions)

    def upgrade(self) -> None:
        """Create or migrate the schema to the newest revision."""
        try:
            schema.upgrade(self.engine)
        except OperationalError as error:
            raise StoreUnavailable(self._unreachable(error)) from None

    def ping(self) -> None:
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except OperationalError as error:
            raise StoreUnavailable(self._unreachable(error)) from None

    def _unreachable(self, error: OperationalError) -> str:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        return f"cannot reach the database at {self.engine.url.render_as_string(hide_password=True)}: {reason}"

    def dispose(self) -> None:
        self.engine.dispose()
