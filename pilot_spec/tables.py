"""Tables of named things (arms, datasets, models): each keyed by its item's name, in the order written."""

from __future__ import annotations

from typing import Protocol, TypeVar


class Named(Protocol):
    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=Named)


def by_name(*items: N) -> dict[str, N]:
    """``{item.name: item}`` for the items, in their order (the catalog lists them so)."""
    return {item.name: item for item in items}
