"""The metrics endpoints' two layouts hold the same long-format table, non-finite values included."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.support.api import API, Api, create_pilot, start


def _as_rows(body: dict[str, Any]) -> list[tuple[int, str, int, Any]]:
    columns = body["columns"]
    names = dict(body["nonfinite"])
    return [
        (run_id, key, epoch, names.get(i, value))
        for i, (run_id, key, epoch, value) in enumerate(
            zip(columns["run_id"], columns["key"], columns["epoch"], columns["value"], strict=True)
        )
    ]


@pytest.mark.parametrize("max_points", [None, 3])
def test_columns_match_rows(api: Api, max_points: int | None) -> None:
    pilot = create_pilot(api)
    runs = [r["id"] for r in pilot["runs"]][:2]
    for run_id in runs:
        start(api.store, run_id)
        points = [("test_acc", e, 0.5 + 0.01 * e) for e in range(1, 8)] + [("train_loss", 2, math.nan)]
        points += [("train_loss", 1, math.inf), ("lr", 1, -math.inf), ('ünï "key"', 1, 1.0)]
        api.store.write_points(run_id=run_id, points=points)
    params: dict[str, Any] = {} if max_points is None else {"max_points": max_points}
    url = f"{API}/pilots/{pilot['id']}/metrics"
    rows = api.client.get(url, params={**params, "format": "rows"}).json()["points"]
    columns = api.client.get(url, params={**params, "format": "columns"}).json()
    expected = [(p["run_id"], p["key"], p["epoch"], p["nonfinite"] or p["value"]) for p in rows]
    assert _as_rows(columns) == expected
    assert {name for _, name in columns["nonfinite"]} == {"NaN", "Infinity", "-Infinity"}
    one = api.client.get(f"{API}/runs/{runs[0]}/metrics", params={"format": "columns", "keys": "test_acc"}).json()
    assert set(one["columns"]["key"]) == {"test_acc"} and set(one["columns"]["run_id"]) == {runs[0]}


def test_empty_and_bad_layout(api: Api) -> None:
    pilot = create_pilot(api)
    body = api.client.get(f"{API}/pilots/{pilot['id']}/metrics", params={"format": "columns"}).json()
    assert body == {"columns": {"run_id": [], "key": [], "epoch": [], "value": []}, "nonfinite": []}
    bad = api.client.get(f"{API}/pilots/{pilot['id']}/metrics", params={"format": "csv"})
    assert bad.status_code == 422 and "rows" in bad.text and "columns" in bad.text
