"""Roles and permissions: every route states one permission; a role grants a set of them.

- ``admin``: everything, including users and everybody's tokens.
- ``engineer``: submit pilots, upload datasets, cancel, retry and delete their *own* pilots and runs.
- ``viewer`` (the manager): read everything, edit ROI inputs, export reports, record a decision.

``decide`` (record adopt / reject / defer for a pilot) goes to managers and admins but not to engineers:
whoever runs a pilot does not also sign off on it.

Two permissions are not granted by a role: ``public`` (no sign-in: the liveness check and signing in) and
``signed_in`` (any user, for their own account: who am I, sign out, own password and tokens).
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    ADMIN = "admin"
    ENGINEER = "engineer"
    VIEWER = "viewer"


class Permission(enum.StrEnum):
    PUBLIC = "public"
    SIGNED_IN = "signed_in"
    READ = "read"
    EDIT_ROI = "edit_roi"
    SUBMIT = "submit"
    MANAGE_OWN_PILOTS = "manage_own_pilots"  # an admin manages anybody's
    DECIDE = "decide"  # record a decision on a pilot (issue 11 §5)
    ADMIN = "admin"


_EVERY_ROLE = {Permission.SIGNED_IN, Permission.READ, Permission.EDIT_ROI}
GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset(_EVERY_ROLE | {Permission.DECIDE}),
    Role.ENGINEER: frozenset(_EVERY_ROLE | {Permission.SUBMIT, Permission.MANAGE_OWN_PILOTS}),
    Role.ADMIN: frozenset(set(Permission) - {Permission.PUBLIC}),
}

ROLE_NAMES = tuple(role.value for role in Role)


def parse_role(text: str) -> Role:
    """``Role(text)`` with a message that lists the roles."""
    try:
        return Role(text)
    except ValueError:
        raise ValueError(f"unknown role {text!r}; choose one of {', '.join(ROLE_NAMES)}") from None


def grants(role: str, permission: Permission) -> bool:
    if permission is Permission.PUBLIC:
        return True
    try:
        return permission in GRANTS[Role(role)]
    except ValueError:
        return False  # a role this version does not know grants nothing
