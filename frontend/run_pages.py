"""One run's page: its progress, device and cost, final metrics, curves and full configuration (``RunOut``)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from backend.figures.style import value_bounds
from backend.schemas import RunOut
from frontend.client import PageApi
from frontend.rendering import render
from frontend.signin import signed_in
from pilot_spec.colours import series_colours
from pilot_spec.metrics import METRICS, TEST_ACC, TEST_LOSS, TRAIN_ACC, TRAIN_LOSS

# The run page's curves: accuracies on the left axis, losses on the right (charts.js draws what data-series
# lists), each with its label, colour and the range its axis keeps to.
_RUN_CURVES = ((TEST_ACC, "y"), (TRAIN_ACC, "y"), (TEST_LOSS, "y2"), (TRAIN_LOSS, "y2"))
_RUN_COLOURS = series_colours(key for key, _ in _RUN_CURVES)
RUN_SERIES = json.dumps(
    [
        {"key": key, "label": METRICS[key].label, "colour": _RUN_COLOURS[key], "axis": axis,
         "min": value_bounds(key)[0], "max": value_bounds(key)[1]}
        for key, axis in _RUN_CURVES
    ]
)  # fmt: skip

router = APIRouter(include_in_schema=False, dependencies=[Depends(signed_in)])


@router.get("/runs/{run_id:int}", response_class=HTMLResponse)
async def run_page(request: Request, run_id: int) -> Response:
    run = await PageApi(request).read(f"/runs/{run_id}", RunOut)
    config = json.dumps(run.config, indent=2, sort_keys=True)
    return render(request, "run.html", run=run, config=config, cost=run.cost or {}, series=RUN_SERIES)
