"""The pilots list's state in its links: the filter, the search, the sort and the page, kept across each other.

A column header links to the same list sorted on its column (ascending first, then the other way), and says
how the list is sorted now for screen readers (``aria-sort``); the pager keeps the search and the sort.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

from pilot_spec.listing import DEFAULT_SORT

AriaSort = Literal["ascending", "descending", "none"]
# The sort choices of the search form (on a phone the column headers are hidden): every key, in words.
SORT_LABELS: dict[str, str] = {
    "-created": "newest first",
    "created": "oldest first",
    "name": "name A–Z",
    "-name": "name Z–A",
    "owner": "owner A–Z",
    "-owner": "owner Z–A",
    "dataset": "dataset A–Z",
    "-dataset": "dataset Z–A",
    "model": "model A–Z",
    "-model": "model Z–A",
}


@dataclass(frozen=True)
class PilotListing:
    status: str = ""
    q: str = ""
    sort: str = DEFAULT_SORT
    page: int = 1

    def url(self, **changes: str | int) -> str:
        """This list's URL with ``changes`` (a new sort or page); defaults are left out of the link."""
        state = replace(self, **changes)  # type: ignore[arg-type]
        params = {
            "status": state.status,
            "q": state.q,
            "sort": "" if state.sort == DEFAULT_SORT else state.sort,
            "page": "" if state.page == 1 else str(state.page),
        }
        query = urlencode({key: value for key, value in params.items() if value})
        return f"/?{query}" if query else "/"

    def is_url_of(self, query: str) -> bool:
        """Whether ``query`` (a request's query string) is this list's own link: the same parameters, none
        blank or default (compared parsed, so that two ways of encoding one character are the same)."""
        return sorted(parse_qsl(query, keep_blank_values=True)) == sorted(parse_qsl(urlsplit(self.url()).query))

    def aria_sort(self, column: str) -> AriaSort:
        if self.sort == column:
            return "ascending"
        return "descending" if self.sort == f"-{column}" else "none"

    def sort_url(self, column: str) -> str:
        """Sorted on ``column``: ascending, or descending when it is sorted ascending already; from page 1."""
        return self.url(sort=f"-{column}" if self.sort == column else column, page=1)
