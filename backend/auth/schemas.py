"""The account answers of the API (``/api/v1/auth/...``, ``/api/v1/users``): who is signed in, their tokens,
the users.

Pure pydantic, beside the rest of ``backend.auth`` but importing none of it, so that the pages
(``frontend.signin``, ``frontend.account``) read these answers as the same models the routes declare: the
frontend may not import anything that reaches the store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class UserOut(BaseModel):
    name: str
    role: Literal["admin", "engineer", "viewer"]
    must_change_password: bool
    disabled: bool
    created_at: datetime


class MeOut(BaseModel):
    user: UserOut
    via: Literal["token", "session"]
    permissions: list[str]
    csrf_token: str | None = Field(description="send it in X-CSRF-Token with every change (sessions only)")
    state: str | None = Field(
        default=None,
        description="asked for with ?pilot=ID or ?pilots=all: a tag of that pilot's (or every pilot's) state now, "
        "which any change to it alters; null when not asked for, for an unknown pilot, or without the read "
        "permission. The pages revalidate what they rendered with it, in the same call as the sign-in check",
    )


class TokenOut(BaseModel):
    id: int
    user: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewTokenOut(TokenOut):
    token: str = Field(description="the token itself: shown this once, never again")


class TokensOut(BaseModel):
    tokens: list[TokenOut]


class UserWithPasswordOut(BaseModel):
    user: UserOut
    one_time_password: str | None = Field(description="shown this once; the user must change it at sign-in")
    limits: dict[str, float] = Field(default_factory=dict, description="the user's own limits (others: defaults)")


class UsersOut(BaseModel):
    users: list[UserOut]
