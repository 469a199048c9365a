"""Changes to a pilot from its page besides its runs: its notes and tags, and deleting it after a confirm step.

Both go through the API (``PATCH`` and ``DELETE /api/v1/pilots/{id}``), which checks that the user owns the
pilot or is an admin, and refuses to delete a pilot with active runs: its message is shown as it is.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from backend.schemas import PilotDetail
from frontend.client import PageApi
from frontend.errors import error_page, problem
from frontend.posted_form import form_items
from frontend.rendering import is_htmx, render, templates
from frontend.signin import signed_in
from pilot_spec.annotations import NOTES_MAX, TAG_RULE, split_tags

router = APIRouter(include_in_schema=False, dependencies=[Depends(signed_in)])
templates.env.globals.update(notes_max=NOTES_MAX, tag_rule=TAG_RULE)


def _annotation_errors(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The API's error paths onto the two inputs: ``tags[3]`` is the tags box; anything else is general."""
    out: dict[str, list[str]] = {}
    for field, message in fields:
        key = field.split("[", 1)[0] if field.startswith(("notes", "tags")) else "form"
        out.setdefault(key, []).append(message)
    return out


@router.post("/pilots/{pilot_id:int}/annotations", response_class=HTMLResponse)
async def save_annotations(request: Request, pilot_id: int) -> Response:
    """The notes and tags form → PATCH /api/v1/pilots/{id}; htmx gets the section again, a form a redirect."""
    form = dict(await form_items(request))
    typed = {"notes": form.get("notes", ""), "tags": form.get("tags", "")}
    api = PageApi(request)
    result = await api.patch(f"/pilots/{pilot_id}", json={"notes": typed["notes"], "tags": split_tags(typed["tags"])})
    if result.ok and not is_htmx(request):
        return RedirectResponse(f"/pilots/{pilot_id}#annotations", status_code=303)
    if result.ok:
        return render(request, "_annotations.html", pilot=result.parsed(PilotDetail), saved=True)
    if result.status != 422:  # 403 for somebody else's pilot, 404, 503
        return problem(request, result)
    errors = _annotation_errors([(error.field, error.message) for error in result.errors])
    if not is_htmx(request):
        return error_page(request, 422, result.errors_text())
    pilot = await api.read(f"/pilots/{pilot_id}", PilotDetail)
    # htmx swaps only 2xx answers by default: the form comes back with the reasons beside its fields.
    return render(request, "_annotations.html", pilot=pilot, annotation_errors=errors, annotation_values=typed)


@router.get("/pilots/{pilot_id:int}/delete", response_class=HTMLResponse)
async def confirm_delete(request: Request, pilot_id: int) -> Response:
    """The confirm step: what would go, and the button that deletes it (no script needed)."""
    pilot = await PageApi(request).read(f"/pilots/{pilot_id}", PilotDetail)
    return render(request, "delete_pilot.html", pilot=pilot)


@router.post("/pilots/{pilot_id:int}/delete", response_class=HTMLResponse)
async def delete_pilot(request: Request, pilot_id: int) -> Response:
    await form_items(request)  # its CSRF field, for the API call
    result = await PageApi(request).delete(f"/pilots/{pilot_id}")
    if not result.ok:  # 409 while runs are active, 403 for somebody else's pilot: the API's own words
        return problem(request, result)
    return RedirectResponse("/", status_code=303)
