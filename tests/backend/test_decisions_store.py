"""The decision record in the store, on SQLite and PostgreSQL: append-only, hashed snapshots, newest first,
the latest per pilot in one query, and gone with its pilot."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import event

from backend.store import NotFound, Store
from backend.store.decisions import Decisions, canonical_json, summary_sha256
from tests.support.store import create

# Keys out of order, a float that JSONB would print differently (1e-20), a negative zero, and Unicode.
SNAPSHOT: dict[str, Any] = {"z": [1.0, -0.0, 1e-20, 0.1], "a": {"é": "naïve ü", "n": None}, "provisional": True}


def _record(store: Store, pilot_id: int, decision: str = "adopt", **overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "pilot_id": pilot_id,
        "decision": decision,
        "arm": "rblock_s",
        "note": "worth it",
        "decided_by": "vera",
        "provisional": False,
        "summary": SNAPSHOT,
    }
    fields.update(overrides)
    return store.decisions.record(**fields)


def test_a_decision_keeps_its_snapshot_byte_for_byte_with_its_hash(store: Store) -> None:
    pilot = create(store)
    made = _record(store, pilot.id, provisional=True)
    again = store.decisions.get(pilot_id=pilot.id, decision_id=made.id)
    assert again == made and again.provisional and again.decided_at.tzinfo is not None
    assert again.summary == canonical_json(SNAPSHOT) and again.summary.startswith('{"a":{"n":null,"é":')
    assert again.summary_sha256 == hashlib.sha256(again.summary.encode()).hexdigest()
    assert summary_sha256(json.loads(again.summary)) == again.summary_sha256 == summary_sha256(SNAPSHOT)


def test_history_is_newest_first_without_snapshots_and_latest_is_one_query(store: Store) -> None:
    first, second, third = create(store), create(store), create(store)
    a = _record(store, first.id, "defer")
    b = _record(store, first.id, "reject", arm="none")
    c = _record(store, second.id, "adopt")
    history = store.decisions.history(pilot_id=first.id)
    assert [d.id for d in history] == [b.id, a.id] and [d.decision for d in history] == ["reject", "defer"]
    assert all(d.summary is None for d in history)
    assert store.decisions.history(pilot_id=third.id) == []
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    latest = store.decisions.latest(pilot_ids=[first.id, second.id, third.id])
    assert len(statements) == 1 and "summary," not in statements[0]
    assert {k: v.id for k, v in latest.items()} == {first.id: b.id, second.id: c.id}
    assert store.decisions.latest(pilot_ids=[]) == {}


def test_unknown_pilots_and_decisions_are_not_found(store: Store) -> None:
    pilot, other = create(store), create(store)
    made = _record(store, pilot.id)
    with pytest.raises(NotFound, match="pilot 999 does not exist"):
        _record(store, 999)
    with pytest.raises(NotFound, match="pilot 999 does not exist"):
        store.decisions.history(pilot_id=999)
    with pytest.raises(NotFound, match=f"pilot {other.id} has no decision {made.id}"):
        store.decisions.get(pilot_id=other.id, decision_id=made.id)  # not through another pilot's id


def test_the_record_is_append_only_and_goes_with_its_pilot(store: Store) -> None:
    public = [name for name in dir(Decisions) if not name.startswith("_")]
    assert sorted(public) == ["get", "history", "latest", "record"]  # no update, no delete
    pilot, kept = create(store), create(store)
    _record(store, pilot.id)
    survivor = _record(store, kept.id)
    store.cancel_pilot(pilot_id=pilot.id)
    store.delete_pilot(pilot_id=pilot.id)
    assert {k: v.id for k, v in store.decisions.latest(pilot_ids=[pilot.id, kept.id]).items()} == {kept.id: survivor.id}
