"""The summary's contract: the endpoints declare PilotAnalysis (OpenAPI shows it), and real pilots' summaries
are PilotAnalysis, by pydantic and by the OpenAPI document's JSON Schema, and survive a round trip byte for byte."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest

from backend.store import RunStatus
from backend.summary_cache import encode
from pilot_spec.analysis import Bounded, Describe, PilotAnalysis
from tests.support.analysis import advance, finish_round, finished_pilot
from tests.support.api import API, Api, create_pilot, pilot_body, start

SUMMARY_ROUTES = (("/pilots/{pilot_id}/summary", "get"), ("/pilots/{pilot_id}/roi", "put"))


def _openapi(api: Api) -> dict[str, Any]:
    response = api.client.get(f"{API}/openapi.json")
    assert response.status_code == 200, response.text
    spec: dict[str, Any] = response.json()
    return spec


def test_the_summary_endpoints_declare_pilot_analysis(api: Api) -> None:
    spec = _openapi(api)
    for path, method in SUMMARY_ROUTES:
        answer = spec["paths"][API + path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        assert answer == {"$ref": "#/components/schemas/PilotAnalysis"}, (path, answer)
    documented = spec["components"]["schemas"]["PilotAnalysis"]
    assert list(documented["properties"]) == list(PilotAnalysis.model_fields)
    assert "sequential" not in documented["required"]  # absent for a fixed-design pilot
    for part in ("ArmResult", "Comparison", "Roi", "Bounded", "Describe", "CurvePoint", "SequentialSection"):
        assert part in spec["components"]["schemas"], part


def _sequential_pilot(api: Api) -> int:
    body = pilot_body(sequential={"max_seeds": 8, "round": 2})
    del body["seeds"]
    created = api.client.post(f"{API}/pilots", json=body)
    assert created.status_code == 201, created.text
    pilot_id: int = created.json()["pilot"]["id"]
    better = lambda run: 0.95 + 0.01 * (run.seed % 2) if run.arm == "rblock_s" else 0.90  # noqa: E731
    assert finish_round(api, pilot_id, better, {"none": 0.25, "rblock_s": 0.5}) == 4
    advance(api)
    return pilot_id


def _running_pilot(api: Api) -> int:
    """One run finished with a NaN metric, one running, the rest queued: provisional, with undefined numbers."""
    pilot = create_pilot(api, roi={"predictions_per_year": 1000, "cost_per_error": 0.2, "retrains_per_year": 4})
    first, second, *_ = (run["id"] for run in pilot["runs"])
    start(api.store, first)
    api.store.write_points(run_id=first, points=[("test_acc", 1, 0.5), ("drop_rate", 1, float("nan"))])
    api.store.finish_run(
        run_id=first,
        status=RunStatus.SUCCEEDED,
        cost={"device_hours": 0.1, "device_kind": "cpu"},
        final_metrics={"test_acc": 0.9, "ece": float("nan")},
    )
    start(api.store, second)
    pilot_id: int = pilot["id"]
    return pilot_id


@pytest.mark.parametrize("curves", ["all", "none"])
def test_real_summaries_are_pilot_analysis_by_model_and_by_schema(api: Api, curves: str) -> None:
    spec = _openapi(api)
    schema = jsonschema_rs.Draft202012Validator(
        {"$ref": "#/components/schemas/PilotAnalysis", "components": spec["components"]}
    )
    finished = finished_pilot(api, roi={"predictions_per_year": 1e6, "cost_per_error": 0.5, "retrains_per_year": 12})
    pilots = {"finished": finished["id"], "sequential": _sequential_pilot(api), "running": _running_pilot(api)}
    for kind, pilot_id in pilots.items():
        response = api.client.get(f"{API}/pilots/{pilot_id}/summary", params={"curves": curves})
        assert response.status_code == 200, response.text
        analysis = PilotAnalysis.model_validate_json(response.content)
        assert encode(analysis) == response.content, kind  # parsed and sent again: the same bytes
        errors = [error.message for error in schema.iter_errors(response.json())]
        assert not errors, (kind, errors[:3])
        assert (analysis.sequential is not None) == (kind == "sequential")
        assert ("sequential" in response.json()) == (kind == "sequential")
        assert analysis.provisional == (kind != "finished")  # the sequential one has its next round queued
        assert bool(analysis.curves) == (curves == "all" and kind != "sequential"), kind  # no points written there


def test_undefined_numbers_are_null_never_nan() -> None:
    one_seed = Describe(n=1, mean=0.9, std=float("nan"), sem=float("inf"), ci_low=None, ci_high=-float("inf"))
    assert (one_seed.std, one_seed.sem, one_seed.ci_high) == (None, None, None)
    row = Bounded(value=float("nan"), low=1.0, high=2.0)
    assert row.model_dump(mode="json") == {"value": None, "low": 1.0, "high": 2.0}
