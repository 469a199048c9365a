"""A posted page form, read as its (name, value) pairs with the CSRF field taken out and kept for the API calls."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import HTTPException, Request

from frontend.client import CSRF_FIELD


async def form_items(request: Request) -> list[tuple[str, str]]:
    """The posted form (urlencoded, as browsers and htmx send it without file inputs).

    Parsed here rather than with ``request.form()``, which would also accept multipart bodies with files;
    only the dataset upload (``/pilots/new/upload``) takes a file. The CSRF field is taken out and kept
    for the API calls that follow (``frontend.client``).
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("", "application/x-www-form-urlencoded"):
        # Refused before reading: a page form is small, while a multipart body may be as large as an upload.
        raise HTTPException(415, f"send this form as application/x-www-form-urlencoded (got {kind[:80]})")
    body = (await request.body()).decode("utf-8", errors="replace")
    items = parse_qsl(body, keep_blank_values=True, max_num_fields=2000)
    for key, value in items:
        if key == CSRF_FIELD:
            request.state.form_csrf = value
    return [(key, value) for key, value in items if key != CSRF_FIELD]
