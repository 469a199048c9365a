"""The pilots list's search and sort: what the API accepts, the store applies and the page links to.

``sort`` is one key of :data:`PILOT_SORTS`, ``-`` first for descending; the default is newest first.
``q`` is searched, case-insensitively, as words: a pilot matches when every word is in its name, description,
owner or one of its tags.
"""

from __future__ import annotations

from typing import Literal, get_args

SEARCH_MAX = 100  # characters of the search box
SEARCH_WORDS_MAX = 8  # words searched; more would only make the query slower, not the answer better

PilotSort = Literal["created", "-created", "name", "-name", "owner", "-owner", "dataset", "-dataset", "model", "-model"]
PILOT_SORTS: tuple[str, ...] = get_args(PilotSort)
DEFAULT_SORT: PilotSort = "-created"
SORT_COLUMNS: tuple[str, ...] = tuple(key for key in PILOT_SORTS if not key.startswith("-"))


def search_words(text: str) -> list[str]:
    """The words of a search, at most :data:`SEARCH_WORDS_MAX` of them (the rest are ignored)."""
    return text.split()[:SEARCH_WORDS_MAX]
