"""Growing a pilot in place (more seeds, more arms) and the state of a sequential pilot's rounds.

Attached to the store as ``store.extensions``. Each method is one transaction that starts by writing the
pilot's row, which takes its lock (a row lock on PostgreSQL, the write lock on SQLite) before anything is
read: two extensions of one pilot (two users, or a user and the reconciler's next round) are thus applied
one after the other, and the second finds the seeds changed and raises ``Conflict`` instead of planning
on a stale pilot. The unique (arm, seed) constraint backs this up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from backend.store.db import transaction, utc_now
from backend.store.entities import ArmInput, Conflict, NotFound, Pilot, Run, RunInput, RunStatus
from backend.store.models import SqlArm, SqlPilot, SqlRun
from backend.store.rows import pilot_entity, select_runs
from backend.store.versions import NEXT_VERSION


class Extensions:
    """Adds arms, seeds and runs to an existing pilot; keeps a sequential pilot's looks."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def _locked(self, session: Session, pilot_id: int, expect_seeds: Sequence[int]) -> SqlPilot:
        """The pilot's row, locked for this transaction; ``Conflict`` when its seeds are not ``expect_seeds``."""
        now = utc_now()
        touched = session.execute(
            update(SqlPilot).where(SqlPilot.id == pilot_id).values(updated_at=now, version=NEXT_VERSION)
        )
        if not getattr(touched, "rowcount", 0):
            raise NotFound(f"pilot {pilot_id} does not exist")
        row = session.scalars(
            select(SqlPilot)
            .where(SqlPilot.id == pilot_id)
            .options(selectinload(SqlPilot.arms))
            .execution_options(populate_existing=True)
        ).one()
        if list(row.seeds) != list(expect_seeds):
            raise Conflict(
                f"pilot {pilot_id} changed meanwhile (its seeds are now {list(row.seeds)}): read it again and retry"
            )
        return row

    def extend(
        self,
        *,
        pilot_id: int,
        expect_seeds: Sequence[int],
        new_seeds: Sequence[int],
        arms: Sequence[ArmInput],
        runs: Sequence[RunInput],
        run_queue: str,
        budget_cap: float | None = None,
        sequential: dict[str, Any] | None = None,
    ) -> tuple[Pilot, list[Run]]:
        """Add ``arms`` and ``runs`` (queued, in the order given) to a pilot, and ``new_seeds`` to its seeds.

        ``budget_cap`` replaces the pilot's cap when given; ``sequential`` its sequential state (the look
        that led to this round). Returns the pilot and its new runs.
        """
        try:
            with transaction(self._sessions) as session:
                row = self._locked(session, pilot_id, expect_seeds)
                by_name = {arm.name: arm for arm in row.arms}
                for arm in arms:
                    if arm.name in by_name:
                        raise Conflict(f"pilot {pilot_id} already has an arm named {arm.name!r}")
                    by_name[arm.name] = SqlArm(name=arm.name, regularizer=arm.regularizer, params=arm.params)
                    row.arms.append(by_name[arm.name])
                row.seeds = [*row.seeds, *new_seeds]
                if budget_cap is not None:
                    row.budget_cap = budget_cap
                if sequential is not None:
                    row.sequential = sequential
                session.flush()
                now, added = utc_now(), []
                for run in runs:
                    if run.arm not in by_name:
                        raise NotFound(f"run refers to arm {run.arm!r}, which pilot {pilot_id} does not have")
                    new = SqlRun(
                        pilot_id=pilot_id,
                        arm_id=by_name[run.arm].id,
                        seed=run.seed,
                        status=RunStatus.QUEUED.value,
                        attempts=0,
                        queue=run_queue,
                        config=run.config,
                        epochs_total=run.epochs_total,
                        epochs_done=0,
                        queued_at=now,
                        cancel_requested=False,
                    )
                    session.add(new)
                    added.append(new)
                session.flush()  # ids in the order added: the order the runs are sent in
                new_runs = select_runs(session, SqlRun.id.in_([r.id for r in added])) if added else []
                return pilot_entity(row), new_runs
        except IntegrityError:
            raise Conflict(f"pilot {pilot_id} already has some of these runs: read it again and retry") from None

    def stop_sequential(self, *, pilot_id: int, expect_seeds: Sequence[int], sequential: dict[str, Any]) -> Pilot:
        """Record a sequential pilot's last look and close it: no round follows."""
        with transaction(self._sessions) as session:
            row = self._locked(session, pilot_id, expect_seeds)
            row.sequential = sequential
            row.sequential_open = False
            session.flush()
            return pilot_entity(row)

    def open_sequential(self) -> list[int]:
        """Ids of the sequential pilots that may still get rounds, oldest first."""
        with transaction(self._sessions) as session:
            query = select(SqlPilot.id).where(SqlPilot.sequential_open.is_(True)).order_by(SqlPilot.id)
            return list(session.scalars(query))
