"""Users (admins only): list, add with a role, change a role, disable, reset a password, raise limits.

Disabling a user or resetting their password revokes their API tokens (``backend.store.accounts``).

A user added without a password gets a one-time password, returned in this answer only; they must
choose their own at first sign-in. ``rblock-pilot user add`` does the same from the command line.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from backend.auth.accounts import AccountError, create_user, reset_password
from backend.auth.guard import Principal, require
from backend.auth.roles import Permission, parse_role
from backend.auth.schemas import UsersOut, UserWithPasswordOut
from backend.errors import error_responses
from backend.quotas import LIMITS, check_limit_value
from backend.routes.auth import Password, user_out
from backend.routes.deps import StoreDep

router = APIRouter(prefix="/users", tags=["users"], responses=error_responses(401, 403, 404, 409, 413, 415, 422, 503))

UserName = Annotated[str, PathParam(min_length=1, max_length=64, description="a user's name")]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=64)]
    role: Annotated[str, Field(description="admin, engineer or viewer")]
    password: Password | None = Field(default=None, description="leave out to get a one-time password")


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str | None = Field(default=None, description="admin, engineer or viewer")
    disabled: bool | None = Field(default=None, description="true: no sign-in, no token works; sessions end")
    reset_password: bool = Field(
        default=False, description="true: a new one-time password, in the answer (their API tokens are revoked)"
    )
    limits: dict[str, float | None] | None = Field(
        default=None,
        description=f"raise (or lower) this user's spending limits: {', '.join(LIMITS)}; null for a key: "
        "back to the setting's default",
    )


@router.get("", response_model=UsersOut, dependencies=[require(Permission.ADMIN)])
def list_users(store: StoreDep) -> UsersOut:
    """Every user, with role and state."""
    return UsersOut(users=[user_out(u) for u in store.accounts.list_users()])


@router.post("", status_code=201, response_model=UserWithPasswordOut, dependencies=[require(Permission.ADMIN)])
def add_user(body: UserCreate, store: StoreDep) -> UserWithPasswordOut:
    """Add a user with a role (and a one-time password unless one is given)."""
    try:
        user, one_time = create_user(store, name=body.name, role=body.role, password=body.password)
    except AccountError as error:
        raise HTTPException(422, str(error)) from None
    return UserWithPasswordOut(user=user_out(user), one_time_password=one_time)


@router.patch("/{name}", response_model=UserWithPasswordOut)
def change_user(
    name: UserName, body: UserChange, store: StoreDep, principal: Annotated[Principal, require(Permission.ADMIN)]
) -> UserWithPasswordOut:
    """Change a user's role, disable or enable them, or reset their password."""
    role = None
    if body.role is not None:
        try:
            role = parse_role(body.role).value
        except ValueError as error:
            raise HTTPException(422, f"role: {error}") from None
    if name == principal.user.name and (body.disabled or (role is not None and role != "admin")):
        raise HTTPException(409, "an admin cannot disable or demote themselves: ask another admin")
    changes: dict[str, float | None] = {}
    for key, value in (body.limits or {}).items():
        if key not in LIMITS:
            raise HTTPException(422, f"limits.{key[:64]}: unknown limit; choose from {', '.join(LIMITS)}")
        try:
            changes[key] = None if value is None else check_limit_value(key, value)
        except ValueError as error:
            raise HTTPException(422, f"limits.{key}: {error}") from None
    user = store.accounts.update_user(name=name, role=role, disabled=body.disabled)
    limits = store.usage.set_user_limits(name=name, changes=changes) if changes else store.usage.user_limits(name=name)
    one_time = reset_password(store, name=name) if body.reset_password else None
    if one_time is not None:
        user = store.accounts.get_user(name=name)
    return UserWithPasswordOut(user=user_out(user), one_time_password=one_time, limits=limits)
