"""Pilots side by side (issue 16): ``/compare?pilots=3,7``, from ``GET /api/v1/compare``.

The pilots list's Compare form sends one ``pilots`` field per ticked box (a plain GET form works without
JavaScript), which the page joins into the API's comma-separated list. A list the API refuses (fewer than
two, a repeat, an unknown id) is the same page with the API's reason in words and the way back to the list.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from backend.figures.compare import accuracy_against_cost, comparison_colours, pilot_glyph
from backend.figures.style import PLOTLY_CONFIG
from frontend.client import PageApi
from frontend.rendering import render, templates
from frontend.signin import signed_in
from pilot_spec import glossary, metrics
from pilot_spec.analysis import PilotComparison
from pilot_spec.compare import COMPARE_MAX, COMPARE_MIN, joined

router = APIRouter(include_in_schema=False, dependencies=[Depends(signed_in)])
# The pilots list's Compare form says how many to tick.
templates.env.globals.update(compare_min=COMPARE_MIN, compare_max=COMPARE_MAX)

# The table's columns, in order: each is explained in plain words under it (pilot_spec.glossary).
EXPLAINED = (
    metrics.TEST_ACC, glossary.INTERVAL, glossary.COST, glossary.DEVICE_HOURS, metrics.FLIP_RATE, metrics.ECE,
    metrics.SEED_CHURN, metrics.INCONSISTENCY_KL, glossary.VERDICT, glossary.NET_PER_YEAR,
)  # fmt: skip


@router.get("/compare", response_class=HTMLResponse)
async def compare_page(request: Request) -> Response:
    """The pilots named by ``pilots`` (repeated or comma-separated) side by side, with the accuracy/cost chart."""
    ids = joined(request.query_params.getlist("pilots"))
    result = await PageApi(request).get("/compare", pilots=ids)
    if not result.ok:
        # In words, with the status the API gave (422 for the list, 404 for an unknown pilot).
        return render(
            request,
            "compare.html",
            status_code=result.status,
            problem=result.errors_text(fields=False),
            comparison=None,
        )
    comparison = result.parsed(PilotComparison)
    return render(
        request,
        "compare.html",
        comparison=comparison,
        currency=comparison.currency.model_dump(),
        colours=comparison_colours(comparison),
        glyphs={pilot.id: pilot_glyph(index) for index, pilot in enumerate(comparison.pilots)},
        figure=accuracy_against_cost(comparison).to_json(),
        plot_config=json.dumps(PLOTLY_CONFIG),
        glossary=[(glossary.GLOSSARY[key].term, glossary.meaning(key)) for key in EXPLAINED],
    )
