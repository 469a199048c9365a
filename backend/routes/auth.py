"""Signing in and out, who am I, one's own password and API tokens (``/api/v1/auth/...``).

Signing in sets the session cookie (HttpOnly, SameSite=Lax, Secure over https) and returns the session's
CSRF token, which the pages send back in ``X-CSRF-Token`` with every change. Scripts use API tokens
instead: ``Authorization: Bearer rbp_...``; a token is shown once, when made, and only its hash is kept.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from backend.auth.accounts import AccountError, SignInFailed, issue_token, open_session, set_password, sign_in
from backend.auth.guard import SESSION_COOKIE, Principal, require
from backend.auth.roles import GRANTS, ROLE_NAMES, Permission, Role, grants
from backend.auth.schemas import MeOut, NewTokenOut, TokenOut, TokensOut, UserOut
from backend.auth.secrets import MAX_PASSWORD_LENGTH, digest, verify_password
from backend.auth.throttle import LoginThrottle, TooManyAttempts
from backend.errors import error_responses
from backend.etags import pilot_state, pilots_state
from backend.routes.deps import MAX_ID, SettingsDep, StoreDep
from backend.schemas import ErrorOut, Label
from backend.settings import Settings
from backend.store import ApiToken, NotFound, User

router = APIRouter(prefix="/auth", tags=["auth"], responses=error_responses(401, 403, 404, 413, 415, 422, 429, 503))

Password = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)]


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=64)]
    password: Password


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: Password
    new_password: Password


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Label = Field(description="what the token is for, e.g. 'laptop CLI'")


def user_out(user: User) -> UserOut:
    # The entity's fields are the answer's (the password hash is never on it); pydantic drops the id.
    return UserOut.model_validate(asdict(user))


def token_out(token: ApiToken) -> TokenOut:
    # The answer names the owner ``user``; the entity keeps the id beside the name, so it says ``user_name``.
    return TokenOut.model_validate({**asdict(token), "user": token.user_name})


def me_out(principal: Principal, csrf_token: str | None = None) -> MeOut:
    role = principal.user.role
    permissions = sorted(p.value for p in GRANTS.get(Role(role), frozenset())) if role in ROLE_NAMES else []
    return MeOut(
        user=user_out(principal.user),
        via=principal.via,
        permissions=permissions,
        csrf_token=csrf_token or principal.csrf_token,
    )


def throttle_of(request: Request, settings: Settings) -> LoginThrottle:
    throttle = getattr(request.app.state, "login_throttle", None)
    if throttle is None:
        throttle = LoginThrottle(max_failures=settings.login_max_failures, window_s=settings.login_window_s)
        request.app.state.login_throttle = throttle
    return throttle


def client_address(request: Request) -> str:
    """The address the throttle counts: the peer, or what a proxy in TRUSTED_PROXIES says (uvicorn decides)."""
    return request.client.host if request.client else "unknown"


def set_session_cookie(request: Request, response: Response, settings: Settings, session_id: str) -> None:
    secure = settings.cookie_secure if settings.cookie_secure is not None else request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


@router.post(
    "/login",
    response_model=MeOut,
    dependencies=[require(Permission.PUBLIC)],
    responses={
        401: {"model": ErrorOut, "description": "wrong name or password"},
        429: {"model": ErrorOut, "description": "too many failed sign-ins: wait Retry-After seconds"},
    },
)
def login(body: SignIn, request: Request, response: Response, store: StoreDep, settings: SettingsDep) -> MeOut:
    """Sign in with a name and password: sets the session cookie, returns the CSRF token."""
    address = client_address(request)
    try:
        user = sign_in(store, throttle_of(request, settings), name=body.name, password=body.password, address=address)
    except TooManyAttempts as error:
        raise HTTPException(429, str(error), headers={"Retry-After": str(error.retry_after_s)}) from None
    except SignInFailed as error:
        raise HTTPException(401, str(error)) from None
    session_id, csrf = open_session(store, user=user, lifetime=timedelta(hours=settings.session_hours))
    set_session_cookie(request, response, settings, session_id)
    return me_out(Principal(user=user, via="session", csrf_token=csrf))


@router.post("/logout", status_code=204)
def logout(
    request: Request, store: StoreDep, principal: Annotated[Principal, require(Permission.SIGNED_IN)]
) -> Response:
    """Sign out: ends this browser session (a token stays valid until revoked)."""
    if principal.via == "session" and (session_id := request.cookies.get(SESSION_COOKIE)):
        store.accounts.delete_session(id_hash=digest(session_id))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=MeOut)
def me(
    principal: Annotated[Principal, require(Permission.SIGNED_IN)],
    store: StoreDep,
    # Any whole number: no pilot has an id out of range, so its state is null (the pages pass on any URL's id).
    pilot: Annotated[int | None, Query(description="also the state of this pilot")] = None,
    pilots: Annotated[Literal["all"] | None, Query(description="all: also the state of every pilot")] = None,
) -> MeOut:
    """Who is signed in, with their role, permissions and (for a session) CSRF token.

    With ``?pilot=ID`` or ``?pilots=all``, also the state of that pilot or of every pilot (``state``): a page
    kept by the pages' cache is checked against it in the same call that checks who asks (docs/design.md §6)."""
    answer = me_out(principal)
    if principal.user.must_change_password or not grants(principal.user.role, Permission.READ):
        return answer  # no state for who may not read the pilots
    if pilots == "all":
        answer.state = pilots_state(store)
    elif pilot is not None and 1 <= pilot <= MAX_ID:
        answer.state = pilot_state(store, pilot)
    return answer


@router.put("/password", response_model=MeOut)
def change_password(
    body: PasswordChange,
    request: Request,
    response: Response,
    store: StoreDep,
    settings: SettingsDep,
    principal: Annotated[Principal, require(Permission.SIGNED_IN)],
) -> MeOut:
    """Change one's own password; every other session of the user ends. Throttled like signing in."""
    name, throttle = principal.user.name, throttle_of(request, settings)
    # The current password is a guess until verified: counted and paused like sign-in failures, and
    # checked before anything else about the request could answer differently for a right guess.
    try:
        throttle.check(name=name, address=client_address(request))
    except TooManyAttempts as error:
        raise HTTPException(429, str(error), headers={"Retry-After": str(error.retry_after_s)}) from None
    found = store.accounts.credentials(name=name)
    if found is None or not verify_password(found[1], body.current_password):
        throttle.failed(name=name, address=client_address(request))
        raise HTTPException(403, "the current password is wrong")
    throttle.succeeded(name=name)
    if body.new_password == body.current_password:
        raise HTTPException(422, "the new password must differ from the current one")
    try:
        user = set_password(store, name=principal.user.name, password=body.new_password)
    except AccountError as error:
        raise HTTPException(422, f"new_password: {error}") from None
    csrf = None
    if principal.via == "session":  # the change ended this session too: open a fresh one
        session_id, csrf = open_session(store, user=user, lifetime=timedelta(hours=settings.session_hours))
        set_session_cookie(request, response, settings, session_id)
    return me_out(Principal(user=user, via=principal.via, csrf_token=csrf))


@router.get("/tokens", response_model=TokensOut)
def list_tokens(
    store: StoreDep,
    principal: Annotated[Principal, require(Permission.SIGNED_IN)],
    user: Annotated[str | None, Query(max_length=64, description="another user's (admins only); '*' for all")] = None,
) -> TokensOut:
    """One's own API tokens (revoked ones marked); an admin may list another user's, or everybody's."""
    if user is not None and user != principal.user.name and principal.user.role != Role.ADMIN:
        raise HTTPException(403, "only an admin may list another user's tokens")
    name = principal.user.name if user is None else (None if user == "*" else user)
    return TokensOut(tokens=[token_out(t) for t in store.accounts.list_tokens(user_name=name)])


@router.post("/tokens", status_code=201, response_model=NewTokenOut)
def create_token(
    body: TokenCreate, store: StoreDep, principal: Annotated[Principal, require(Permission.SIGNED_IN)]
) -> NewTokenOut:
    """A new API token for oneself, with one's own role; the token is in this answer only."""
    if principal.user.must_change_password:
        raise HTTPException(403, "change your one-time password first; then create tokens")
    try:
        record, token = issue_token(store, user_name=principal.user.name, label=body.name)
    except AccountError as error:
        raise HTTPException(422, f"name: {error}") from None
    return NewTokenOut(token=token, **token_out(record).model_dump())


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=MAX_ID, description="a token's id")],
    store: StoreDep,
    principal: Annotated[Principal, require(Permission.SIGNED_IN)],
) -> TokenOut:
    """Revoke one of one's own tokens (an admin: anybody's); it stops working at once."""
    token = store.accounts.get_token(token_id=token_id)
    if token.user_name != principal.user.name and principal.user.role != Role.ADMIN:
        raise NotFound(f"no API token with id {token_id}")  # others' tokens are not even confirmed to exist
    return token_out(store.accounts.revoke_token(token_id=token_id))
