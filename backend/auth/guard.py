"""The dependency every route states its permission with: ``dependencies=[require(Permission.READ)]``.

Credentials, in this order: ``Authorization: Bearer <API token>`` (scripts, the CLI), then the session
cookie (browsers). A cookie-authenticated request that changes something must also carry the session's
CSRF token in the ``X-CSRF-Token`` header (the pages send it with every htmx request and form): a cookie
arrives with cross-site requests, a header set by our own script does not. Token requests need no CSRF
token, since browsers never attach them by themselves.

Errors: 401 without valid credentials (``WWW-Authenticate: Bearer``), 403 when the role lacks the
permission, for a missing CSRF token, or while a one-time password is still to be changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

from fastapi import Depends, HTTPException, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, HTTPBearer

from backend.auth.roles import GRANTS, Permission, Role, grants
from backend.auth.secrets import digest, same
from backend.auth.signins import SignIns
from backend.store import NotFound, Store, User
from backend.store.account_changes import changes

SESSION_COOKIE = "rbp_session"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="an API token: `rblock-pilot token create USER` or POST /api/v1/auth/tokens",
)
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="session",
    description=f"the browser session from POST /api/v1/auth/login; changes also need the {CSRF_HEADER} header",
)

# Declared as security schemes so that OpenAPI (and the docs page) show how to authenticate.
_TOKEN = Security(bearer_scheme)
_SESSION = Security(cookie_scheme)


@dataclass(frozen=True)
class Principal:
    """Who is asking, and how they proved it."""

    user: User
    via: Literal["token", "session"]
    csrf_token: str | None = None


# Sign-ins this process found, kept for AUTH_CACHE_S (backend/auth/signins.py).
SIGNINS: SignIns[Principal] = SignIns()


def _credential(request: Request) -> tuple[Literal["token", "session"], str] | None:
    """The credential the request sends: ("token", its hash) or ("session", the session id's hash)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return "token", digest(value.strip())
    if session_id := request.cookies.get(SESSION_COOKIE):
        return "session", digest(session_id)
    return None


def known_without_lookup(request: Request) -> bool:
    """Whether the request's principal is known without a database query: found earlier in this request (a
    page's in-process calls share it), or kept from a recent request with the same credential."""
    if "principal" in request.scope.get("state", {}):
        return True
    credential = _credential(request)
    if credential is None:
        return False
    store = cast(Store, request.app.state.store)
    kept = SIGNINS.get((store.url, *credential))
    if kept is None:
        return False
    request.state.principal = kept
    return True


def authenticate(request: Request) -> Principal | None:
    """The request's principal (looked up once per request), or None without valid credentials."""
    if known_without_lookup(request):
        return cast(Principal | None, request.state.principal)
    store = cast(Store, request.app.state.store)
    principal: Principal | None = None
    credential = _credential(request)
    before = changes()
    if credential is not None and credential[0] == "token":
        user = store.accounts.user_for_token(token_hash=credential[1])
        principal = Principal(user=user, via="token") if user else None
    elif credential is not None:
        session = store.accounts.get_session(id_hash=credential[1])
        if session is not None:
            principal = Principal(user=session.user, via="session", csrf_token=session.csrf_token)
    if credential is not None and principal is not None:
        seconds = getattr(getattr(request.app.state, "settings", None), "auth_cache_s", 0.0)
        SIGNINS.put((store.url, *credential), principal, seconds, before)
    request.state.principal = principal
    return principal


def _roles_with(permission: Permission) -> str:
    return ", ".join(role.value for role in Role if permission in GRANTS[role])


def _owner_of(request: Request) -> tuple[bool, str | None]:
    """Whether the route's path names a pilot that exists (directly or through a run), and its ``created_by``."""
    store = cast(Store, request.app.state.store)
    try:
        if "pilot_id" in request.path_params:
            return True, store.get_pilot(pilot_id=int(request.path_params["pilot_id"])).created_by
        if "run_id" in request.path_params:
            run = store.get_run(run_id=int(request.path_params["run_id"]))
            return True, store.get_pilot(pilot_id=run.pilot_id).created_by
    except (NotFound, ValueError, OverflowError):
        return False, None  # the route itself answers 404 or 422
    return False, None


def check(request: Request, permission: Permission) -> Principal:
    """The principal, if it may do what ``permission`` guards on this request; HTTPException otherwise."""
    principal = authenticate(request)
    if principal is None:
        raise HTTPException(
            401,
            "sign in first: send 'Authorization: Bearer <API token>', or sign in at /login",
            headers={"WWW-Authenticate": "Bearer"},
        )
    user = principal.user
    if principal.via == "session" and request.method in UNSAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not (sent and principal.csrf_token and same(sent, principal.csrf_token)):
            raise HTTPException(403, f"missing or wrong CSRF token: send the session's token in {CSRF_HEADER}")
    if user.must_change_password and principal.via == "token":
        # Tokens follow the account: none works while a one-time password is in use (a reset revokes them).
        raise HTTPException(403, "this token's user must change their one-time password first, at /account")
    if user.must_change_password and permission is not Permission.SIGNED_IN:
        raise HTTPException(403, "change your one-time password first (the account page, or PUT /api/v1/auth/password)")
    if not grants(user.role, permission):
        needs = f"this needs the {permission} permission ({_roles_with(permission)})"
        raise HTTPException(403, f"user {user.name!r} is a {user.role}; {needs}")
    if permission is Permission.MANAGE_OWN_PILOTS and user.role != Role.ADMIN:
        found, owner = _owner_of(request)
        if found and owner is None:
            # Pilots from before ownership was recorded (or made by a script) belong to nobody: admins only.
            raise HTTPException(403, "this pilot has no recorded owner: only an admin may change it")
        if found and owner != user.name:
            raise HTTPException(403, f"this pilot belongs to {owner!r}: only its owner or an admin may change it")
    return principal


def require(permission: Permission) -> Any:
    """``Depends`` on a check of ``permission``; the check also tags the route for OpenAPI and the tests."""
    if permission is Permission.PUBLIC:

        def public() -> None:
            return None

        public.permission = permission  # type: ignore[attr-defined]
        return Depends(public)

    async def guarded(
        request: Request,
        _token: Any = _TOKEN,
        _session: Any = _SESSION,
    ) -> Principal:
        # On the event loop when no query is needed (a known sign-in, and no pilot owner to read): a hop to the
        # thread pool and back costs more than the check itself. Otherwise on the pool, as a sync dependency.
        if permission is not Permission.MANAGE_OWN_PILOTS and known_without_lookup(request):
            return check(request, permission)
        return await run_in_threadpool(check, request, permission)

    guarded.permission = permission  # type: ignore[attr-defined]
    return Depends(guarded)


def route_permissions(dependant: Any) -> list[Permission]:
    """The permissions a route's dependencies state (for ``create_app``'s check and the walk test)."""
    found = []
    for sub in dependant.dependencies:
        permission = getattr(sub.call, "permission", None)
        if isinstance(permission, Permission):
            found.append(permission)
    return found
