"""Creating users and tokens and signing in: one implementation for the API, the CLI and the first start."""

from __future__ import annotations

import re
from datetime import timedelta

from backend.auth.roles import Role, parse_role
from backend.auth.secrets import (
    digest,
    hash_password,
    new_csrf_token,
    new_password,
    new_session_id,
    new_token,
    password_problem,
    spend_a_verification,
    verify_password,
)
from backend.auth.throttle import LoginThrottle
from backend.store import ApiToken, Conflict, Store, User

FIRST_ADMIN = "admin"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class AccountError(ValueError):
    """Input that cannot make an account: the message says what to change."""


class SignInFailed(Exception):
    """Wrong name or password, or a disabled user (one message for all: it tells a guesser nothing)."""

    def __init__(self) -> None:
        super().__init__("wrong user name or password")


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise AccountError(
            f"user name {name[:80]!r} is not allowed: 1-64 letters, digits or . _ @ -, starting with a letter or digit"
        )
    return name


def check_password(password: str) -> str:
    problem = password_problem(password)
    if problem:
        raise AccountError(f"the password {problem}")
    return password


def create_user(store: Store, *, name: str, role: str, password: str | None = None) -> tuple[User, str | None]:
    """A new user; without ``password`` one is generated, returned once, and must be changed at first sign-in.

    Raises :class:`AccountError` (bad name, role or password) or the store's ``Conflict`` (name taken).
    """
    try:
        role_ = parse_role(role)
    except ValueError as error:
        raise AccountError(str(error)) from None
    check_name(name)
    one_time = None
    if password is None:
        password = one_time = new_password()
    else:
        check_password(password)
    user = store.accounts.create_user(
        name=name, role=role_.value, password_hash=hash_password(password), must_change_password=one_time is not None
    )
    return user, one_time


def ensure_first_admin(store: Store) -> str | None:
    """On a store with no users, create ``admin`` and return its one-time password; otherwise None."""
    if store.accounts.count_users():
        return None
    try:
        _, password = create_user(store, name=FIRST_ADMIN, role=Role.ADMIN.value)
    except Conflict:
        return None  # another process made it first
    return password


def set_password(store: Store, *, name: str, password: str) -> User:
    """A user's own new password (their sessions end, they stay signed in where the caller re-opens one)."""
    check_password(password)
    return store.accounts.update_user(name=name, password_hash=hash_password(password), must_change_password=False)


def reset_password(store: Store, *, name: str) -> str:
    """A new one-time password for a user who lost theirs (admin or CLI); returned once."""
    password = new_password()
    store.accounts.update_user(name=name, password_hash=hash_password(password), must_change_password=True)
    return password


def issue_token(store: Store, *, user_name: str, label: str) -> tuple[ApiToken, str]:
    """A new API token for a user: its record, and the token itself (shown once, never stored)."""
    if store.accounts.get_user(name=user_name).must_change_password:
        # A token made now would outlive the one-time password: it must wait for the user's own password.
        raise AccountError(f"{user_name!r} must change their one-time password before a token can be made")
    label = label.strip()
    if not label or len(label) > 100:
        raise AccountError("a token's name must be 1-100 characters, e.g. 'laptop CLI'")
    token = new_token()
    record = store.accounts.create_token(user_name=user_name, name=label, token_hash=digest(token), prefix=token[:8])
    return record, token


def sign_in(store: Store, throttle: LoginThrottle, *, name: str, password: str, address: str) -> User:
    """The user whose name and password these are; :class:`SignInFailed` or ``TooManyAttempts`` otherwise."""
    throttle.check(name=name, address=address)
    found = store.accounts.credentials(name=name)
    if found is None:
        spend_a_verification()
    elif verify_password(found[1], password) and not found[0].disabled:
        throttle.succeeded(name=name)
        return found[0]
    throttle.failed(name=name, address=address)
    raise SignInFailed()


def open_session(store: Store, *, user: User, lifetime: timedelta) -> tuple[str, str]:
    """A new browser session: (the cookie's session id, its CSRF token)."""
    session_id, csrf = new_session_id(), new_csrf_token()
    store.accounts.create_session(id_hash=digest(session_id), user_id=user.id, csrf_token=csrf, lifetime=lifetime)
    return session_id, csrf
