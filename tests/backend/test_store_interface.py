"""``Store`` is a ``PilotStore``: mypy checks the assignment (``mypy tests/backend/test_store_interface.py``),
and the runtime check below catches a method or attribute gone missing."""

from __future__ import annotations

import inspect

from backend.store import PilotStore, Store


def test_the_store_satisfies_its_interface(sqlite_url: str) -> None:
    store: PilotStore = Store(sqlite_url)
    try:
        assert isinstance(store, PilotStore)
    finally:
        store.dispose()


def test_every_public_method_of_the_store_is_in_the_interface() -> None:
    public = {name for name, _ in inspect.getmembers(Store, inspect.isfunction) if not name.startswith("_")}
    declared = {name for name, _ in inspect.getmembers(PilotStore, inspect.isfunction) if not name.startswith("_")}
    assert public == declared
    for name in declared:  # the same parameters, so a caller typed against the interface calls the store right
        assert inspect.signature(getattr(Store, name)).parameters.keys() == (
            inspect.signature(getattr(PilotStore, name)).parameters.keys()
        ), name
