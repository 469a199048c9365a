"""The workers page: the workers seen lately, what each is running, and how many runs wait in each queue."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from backend.schemas import WorkersOut
from frontend.client import PageApi
from frontend.rendering import render
from frontend.signin import signed_in

router = APIRouter(include_in_schema=False, dependencies=[Depends(signed_in)])


@router.get("/workers", response_class=HTMLResponse)
async def workers_page(request: Request) -> Response:
    online = await PageApi(request).read("/workers", WorkersOut)
    return render(
        request,
        "workers.html",
        workers=online.workers,
        queue_depths=online.queue_depths,
        seen_within_s=online.seen_within_s,
    )
