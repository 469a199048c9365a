"""The pages' templates (Jinja2, autoescaped) and ``render``: every page and fragment is drawn through it, with
the signed-in user and their CSRF token in its context."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from backend.auth.schemas import MeOut
from frontend.filters import duration, eta, minute, num, pct
from frontend.forms import dom_id, field_id
from frontend.number_filters import register as register_number_filters
from frontend.permissions import may
from pilot_spec.glossary import GLOSSARY, meaning
from pilot_spec.status import (
    ACTIVE_STATUSES,
    CANCEL_MOVES,
    PILOT_ACTIVE_STATUSES,
    RETRYABLE_STATUSES,
    PilotStatus,
)

HERE = Path(__file__).parent

templates = Jinja2Templates(directory=HERE / "templates")
# A live part of a page (the runs grid, the comparison, the curves) gives up on a refresh after this long, so that
# one answer lost on the way delays the next refresh instead of stopping it for good (docs/design.md §6).
# _live.html's refresh() and static/charts.js (from <body data-refresh-timeout-ms>) both read it.
REFRESH_TIMEOUT_MS = 20_000
# The ids of _help.html's texts (a button's aria-controls): unique within a page and the fragments swapped into it.
_HELP_IDS = itertools.count(1)
templates.env.filters.update(num=num, pct=pct, minute=minute, field_id=field_id, dom_id=dom_id)
# money (with the currency's symbol and thousands separators, "< $0.01" for tiny amounts), number, ratio and
# percent: pilot_spec.money's formats, never scientific notation; the currency comes from each page's context.
register_number_filters(templates.env)
templates.env.globals.update(
    duration=duration,
    eta=eta,
    statuses=tuple(status.value for status in PilotStatus),
    active=ACTIVE_STATUSES,
    cancellable=frozenset(CANCEL_MOVES),  # the runs a Cancel button can move (pilot_spec.status)
    retryable=RETRYABLE_STATUSES,
    pilot_active=PILOT_ACTIVE_STATUSES,
    may=may,  # every template asks the one rule what to offer (frontend/permissions.py)
    # Plain words beside every number (issue 16): _help.html's help(key) and the pilot page's glossary.
    meaning=meaning,
    glossary=GLOSSARY,
    help_id=lambda key: f"help-{key}-{next(_HELP_IDS)}",
    refresh_timeout_ms=REFRESH_TIMEOUT_MS,
)


def signed_in_user(request: Request) -> MeOut | None:
    """Who the page is for (set by ``frontend.signin.signed_in``); None on the sign-in page."""
    me = getattr(request.state, "me", None)
    return me if isinstance(me, MeOut) else None


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    me = signed_in_user(request)
    context.setdefault("me", me)
    context.setdefault("csrf", (me.csrf_token if me else None) or "")
    # The deployment's CURRENCY and PRICE_PER_HOUR settings, for the money filter and default_prices.
    settings = getattr(request.app.state, "settings", None)
    context.setdefault("currency", getattr(settings, "currency", None))
    context.setdefault("prices", getattr(settings, "price_per_hour", None))
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def is_htmx(request: Request) -> bool:
    """Whether htmx asked (it swaps the answer into the page): a fragment, not a whole page or a redirect."""
    return request.headers.get("HX-Request") == "true"
