"""One's own account (password, API tokens), and the admins' users page (signing in and out: ``frontend.signin``).

Like every page, these only call the JSON API (``/api/v1/auth/...``, ``/api/v1/users``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from backend.auth.schemas import NewTokenOut, TokenOut, TokensOut, UsersOut, UserWithPasswordOut
from frontend.client import PageApi
from frontend.posted_form import form_items
from frontend.rendering import render
from frontend.signin import redirect_with_cookies, signed_in

ROLES = ("viewer", "engineer", "admin")

router = APIRouter(include_in_schema=False, dependencies=[Depends(signed_in)])


async def _account(request: Request, status_code: int = 200, **context: Any) -> Response:
    tokens = await PageApi(request).get("/auth/tokens")
    items = tokens.parsed(TokensOut).tokens if tokens.ok else []
    context.setdefault("password_error", "")
    context.setdefault("token_error", "")
    context.setdefault("new_token", None)
    context.setdefault("message", "")
    return render(request, "account.html", status_code=status_code, tokens=items, **context)


@router.get("/account", response_class=HTMLResponse)
async def account_page(request: Request) -> Response:
    return await _account(request)


@router.post("/account/password", response_class=HTMLResponse)
async def change_password(request: Request) -> Response:
    form = dict(await form_items(request))
    if form.get("new_password", "") != form.get("repeat_password", ""):
        return await _account(request, 422, password_error="The two new passwords differ.")
    body = {"current_password": form.get("current_password", ""), "new_password": form.get("new_password", "")}
    result = await PageApi(request).put("/auth/password", json=body)
    if not result.ok:
        return await _account(request, result.status, password_error=result.errors_text(fields=False))
    return redirect_with_cookies("/", result)


@router.post("/account/tokens", response_class=HTMLResponse)
async def create_token(request: Request) -> Response:
    form = dict(await form_items(request))
    result = await PageApi(request).post("/auth/tokens", json={"name": form.get("name", "").strip()})
    if not result.ok:
        return await _account(request, result.status, token_error=result.detail or "give the token a name")
    return await _account(request, 201, new_token=result.parsed(NewTokenOut))


@router.post("/account/tokens/{token_id:int}/revoke", response_class=HTMLResponse)
async def revoke_token(request: Request, token_id: int) -> Response:
    await form_items(request)
    result = await PageApi(request).delete(f"/auth/tokens/{token_id}")
    if not result.ok:
        return await _account(request, result.status, token_error=result.detail)
    return await _account(request, message=f"Token {result.parsed(TokenOut).prefix}… revoked.")


async def _users(request: Request, status_code: int = 200, **context: Any) -> Response:
    listed = await PageApi(request).read("/users", UsersOut)
    context.setdefault("error", "")
    context.setdefault("created", None)
    return render(request, "users.html", status_code=status_code, users=listed.users, roles=ROLES, **context)


@router.get("/users", response_class=HTMLResponse)
async def users_page(request: Request) -> Response:
    return await _users(request)


@router.post("/users", response_class=HTMLResponse)
async def add_user(request: Request) -> Response:
    form = dict(await form_items(request))
    body = {"name": form.get("name", "").strip(), "role": form.get("role", "")}
    result = await PageApi(request).post("/users", json=body)
    if not result.ok:
        return await _users(request, result.status, error=result.errors_text())
    return await _users(request, 201, created=result.parsed(UserWithPasswordOut))


@router.post("/users/{name}", response_class=HTMLResponse)
async def change_user(request: Request, name: str) -> Response:
    form = dict(await form_items(request))
    body: dict[str, Any] = {}
    if form.get("role"):
        body["role"] = form["role"]
    if form.get("action") in ("disable", "enable"):
        body["disabled"] = form["action"] == "disable"
    if form.get("action") == "reset":
        body["reset_password"] = True
    result = await PageApi(request).patch(f"/users/{name}", json=body)
    if not result.ok:
        return await _users(request, result.status, error=result.detail)
    changed = result.parsed(UserWithPasswordOut)
    return await _users(request, created=changed if changed.one_time_password else None)
