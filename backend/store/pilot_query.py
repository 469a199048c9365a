"""Which pilots a list shows and in what order: the search words and the sort key (``pilot_spec.listing``).

A word matches, case-insensitively, a substring of the name, the description or the owner, or of one of the
pilot's tags; every word must match. Sorting is on the pilot's own columns with the id as the tie-breaker, so
a page boundary never moves between two requests. The statement selects ids only: the caller loads the page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, exists, func, or_, select

from backend.store.models import SqlPilot, SqlPilotTag
from pilot_spec.listing import DEFAULT_SORT, search_words

# Text sorts lowercased: the same order on SQLite (bytes) and PostgreSQL (its collation) for plain names.
_COLUMNS: dict[str, Any] = {
    "created": SqlPilot.id,  # ids grow with creation time, and unlike the timestamp they never tie
    "name": func.lower(SqlPilot.name),
    "owner": func.lower(SqlPilot.created_by),
    "dataset": func.lower(SqlPilot.dataset),
    "model": func.lower(SqlPilot.model),
}


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matches(word: str) -> Any:
    pattern = _like(word)
    tagged = exists().where(SqlPilotTag.pilot_id == SqlPilot.id, SqlPilotTag.tag.ilike(pattern, escape="\\"))
    columns = (SqlPilot.name, SqlPilot.description, SqlPilot.created_by)
    return or_(*(column.ilike(pattern, escape="\\") for column in columns), tagged)


def pilot_ids(*, search: str = "", sort: str = DEFAULT_SORT) -> Select[int]:
    """The ids of the pilots that match ``search``, in the order of ``sort`` (a key of ``PILOT_SORTS``)."""
    key = sort.removeprefix("-")
    column = _COLUMNS[key]
    descending = sort.startswith("-")
    # Pilots without an owner (made before ownership was recorded) come last either way, as on PostgreSQL.
    order = [(column.desc() if descending else column.asc()).nulls_last()]
    if key != "created":
        order.append(SqlPilot.id.desc())
    query = select(SqlPilot.id).order_by(*order)
    for word in search_words(search):
        query = query.where(_matches(word))
    return query
