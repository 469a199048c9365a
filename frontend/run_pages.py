"""One run's page: its progress, device and cost, final metrics, curves and full configuration (``RunOut``)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from backend.schemas import RunOut
from frontend.client import PageApi
from frontend.rendering import render
from frontend.signin import signed_in

router = APIRouter(include_in_schema=False, dependencies=[Depends(signed_in)])


@router.get("/runs/{run_id:int}", response_class=HTMLResponse)
async def run_page(request: Request, run_id: int) -> Response:
    run = await PageApi(request).read(f"/runs/{run_id}", RunOut)
    config = json.dumps(run.config, indent=2, sort_keys=True)
    return render(request, "run.html", run=run, config=config, cost=run.cost or {})
