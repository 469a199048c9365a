"""Which pilots to put side by side: the ``pilots`` list of ``/compare`` and ``GET /api/v1/compare`` (issue 16).

The API and the page read the list with one rule, so that the page's "tick at least 2" and the API's 422 say
the same thing. The list is comma-separated ids ("3,7,12"); the page's form sends one ``pilots`` field per
ticked box, which it joins with commas first.
"""

from __future__ import annotations

from collections.abc import Iterable

COMPARE_MIN = 2
# A chart of more pilots than this, with a point per arm, is no longer readable; nor is the table.
COMPARE_MAX = 12
# Ids beyond a 64-bit integer cannot exist (the store's primary keys).
_MAX_ID = 2**63 - 1


class CompareListError(ValueError):
    """A ``pilots`` list that cannot be compared; the message says what to fix."""


def joined(values: Iterable[str]) -> str:
    """The form's repeated ``pilots`` fields as one comma-separated list ("3", "7" -> "3,7")."""
    return ",".join(value.strip() for value in values if value.strip())


def parse_pilot_ids(text: str | None) -> list[int]:
    """``"3, 7,12"`` -> ``[3, 7, 12]`` in the order given; :class:`CompareListError` for anything else: no list,
    a word that is not an id, a repeated id, fewer than COMPARE_MIN or more than COMPARE_MAX ids."""
    items = [item.strip() for item in (text or "").split(",") if item.strip()]
    how = f"name {COMPARE_MIN} to {COMPARE_MAX} pilot ids separated by commas, e.g. pilots=3,7"
    if not items:
        raise CompareListError(f"no pilots to compare: {how}")
    ids: list[int] = []
    for item in items:
        if len(item) > 19 or not item.isascii() or not item.isdigit() or not 1 <= int(item) <= _MAX_ID:
            shown = item if len(item) <= 20 else item[:20] + "…"
            raise CompareListError(f"{shown!r} is not a pilot id (a whole number from 1): {how}")
        if int(item) in ids:
            raise CompareListError(f"pilot {int(item)} is named twice: name each pilot once")
        ids.append(int(item))
    if len(ids) < COMPARE_MIN:
        raise CompareListError(f"only {len(ids)} pilot named: tick or name at least {COMPARE_MIN} to compare them")
    if len(ids) > COMPARE_MAX:
        raise CompareListError(f"{len(ids)} pilots named: compare at most {COMPARE_MAX} at once")
    return ids
