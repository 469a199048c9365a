"""Helpers for the store tests: pilots written straight to the store, without the API."""

from __future__ import annotations

from typing import Any

from backend.store import ArmInput, RunInput, Store


def create(store: Store, arms: tuple[str, ...] = ("none", "rblock_s"), seeds: int = 2, **overrides: Any) -> Any:
    """A pilot written straight to the store: ``arms`` × ``seeds`` runs queued, 3 epochs each; ``overrides`` win."""
    fields: dict[str, Any] = {
        "name": "digits pilot",
        "description": "ünïcode <b>ok</b>",
        "dataset": "digits",
        "dataset_params": {},
        "model": "small_cnn",
        "width": 16,
        "training": {"epochs": 3},
        "seeds": list(range(seeds)),
        "baseline_arm": "none",
        "roi": {"predictions_per_year": 1e6},
        "budget_cap": None,
        "queue": "cpu",
        "created_by": "ana",
        "arms": [ArmInput(name=a, regularizer=a, params={}) for a in arms],
        "runs": [
            RunInput(arm=a, seed=s, config={"arm": a, "seed": s, "epochs": 3}, epochs_total=3)
            for a in arms
            for s in range(seeds)
        ],
    }
    fields.update(overrides)
    return store.create_pilot(**fields)
