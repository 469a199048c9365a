"""Signing in and out, and what every other page does first: find who is signed in, or send the browser to
/login (and back to the page it wanted afterwards), or to /account while a one-time password is in use.

Like every page these only call the JSON API (``/api/v1/auth/...``); the session cookie the API sets on
sign-in is passed on to the browser unchanged.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from backend.auth.schemas import MeOut
from frontend.client import ApiRefused, ApiResult, PageApi
from frontend.errors import error_page
from frontend.posted_form import form_items
from frontend.rendering import is_htmx, render

# Pages a user with a one-time password may still open: where they change it, and signing out.
PASSWORD_CHANGE_PATHS = frozenset({"/account", "/account/password", "/logout"})


class SignInRequired(Exception):
    """No valid session: the browser goes to /login (and comes back to ``next`` afterwards)."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class PasswordChangeRequired(Exception):
    """A one-time password is in use: the browser goes to /account to choose a new one first."""


async def signed_in(request: Request) -> None:
    """Every page's first step: who is the user (``request.state.me``: the ``MeOut`` of GET /api/v1/auth/me)?"""
    await signed_in_with_state(request)


async def signed_in_with_state(request: Request, **state_of: Any) -> str | None:
    """``signed_in``, also asking for the state of what ``state_of`` names (``pilot=ID`` or ``pilots="all"``) in
    the same call, and returning it (``MeOut.state``): how a cached page checks both at once (``page_cache``)."""
    result = await PageApi(request).get("/auth/me", **state_of)
    if result.status == 401:
        query = f"?{request.url.query}" if request.url.query else ""
        raise SignInRequired(f"{request.url.path}{query}")
    if not result.ok:
        raise ApiRefused(result)
    me = request.state.me = result.parsed(MeOut)
    if me.user.must_change_password and request.url.path not in PASSWORD_CHANGE_PATHS:
        raise PasswordChangeRequired()
    return me.state


async def to_login(request: Request, error: Exception) -> Response:
    """The exception handler for :class:`SignInRequired`."""
    assert isinstance(error, SignInRequired)
    next_path = error.next_path
    htmx = is_htmx(request)
    if htmx and (current := urlsplit(request.headers.get("HX-Current-URL", ""))).path.startswith("/"):
        # Back to the page the user was reading after sign-in, not to the fragment htmx asked for.
        next_path = current.path + (f"?{current.query}" if current.query else "")
    target = "/login" if next_path == "/" else f"/login?next={quote(next_path, safe='/')}"
    if htmx:
        # htmx would swap a login form into a fragment; tell it to load the whole page instead.
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def to_password_change(request: Request, _: Exception) -> Response:
    """The exception handler for :class:`PasswordChangeRequired`."""
    if is_htmx(request):
        return Response(status_code=403, headers={"HX-Redirect": "/account"})
    return RedirectResponse("/account", status_code=303)


def local_path(text: str) -> str:
    """``next`` only ever leads back into this site: a path, never another origin ("//evil", "https:...")."""
    if text.startswith("/") and not text.startswith("//") and "\\" not in text and "\n" not in text:
        return text
    return "/"


def redirect_with_cookies(url: str, result: ApiResult) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    for cookie in result.set_cookies:
        response.headers.append("set-cookie", cookie)
    return response


# /login is the one page open to everybody; signing out needs a session like any page.
public = APIRouter(include_in_schema=False)
router = APIRouter(include_in_schema=False, dependencies=[Depends(signed_in)])


@public.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", next=local_path(next), error="", user_name="")


@public.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = dict(await form_items(request))
    name, target = form.get("name", "").strip(), local_path(form.get("next", "/"))
    result = await PageApi(request).post("/auth/login", json={"name": name, "password": form.get("password", "")})
    if result.ok:
        changing = result.parsed(MeOut).user.must_change_password
        return redirect_with_cookies("/account" if changing else target, result)
    status = result.status if result.status in (401, 422, 429) else 503
    error = "Enter your user name and password." if result.status == 422 else result.detail
    return render(request, "login.html", status_code=status, next=target, error=error, user_name=name)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await form_items(request)  # the CSRF field of a form posted without JavaScript
    result = await PageApi(request).post("/auth/logout")
    if not result.ok and result.status != 401:
        return error_page(request, result.status, result.detail)
    response = redirect_with_cookies("/login", result)
    response.delete_cookie("rbp_session", path="/")  # the API's session cookie
    return response
