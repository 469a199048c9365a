"""What the signed-in user may do on a page: one rule for every template, so a page offers only what the API
would accept (issue 16: a viewer sees no New pilot, Cancel all, Retry, Delete ...).

``may(me, action, pilot, run)`` combines the permission of the user's role (``MeOut.permissions``), the
ownership rule of the API (``manage_own_pilots``: the owner, or an admin for every pilot; see
``backend.auth.guard``) and whether the action applies to the pilot's or run's state (Cancel all only while
runs are active, Retry only on a failed or cancelled run, Delete only when nothing is active). The API still
decides: a hidden button is a courtesy, not the check.
"""

from __future__ import annotations

import enum
from typing import Any

from backend.auth.roles import Permission, Role
from backend.auth.schemas import MeOut
from pilot_spec.status import ACTIVE_STATUSES, RunStatus

RETRYABLE = frozenset({RunStatus.FAILED, RunStatus.CANCELLED})


class Action(enum.StrEnum):
    SUBMIT = "submit"  # New pilot, Clone
    CANCEL = "cancel"  # a pilot's Cancel all, or one run's Cancel
    RETRY = "retry"  # one failed or cancelled run
    DELETE = "delete"  # a pilot with nothing active
    ANNOTATE = "annotate"  # the pilot's notes and tags
    EXTEND = "extend"  # more seeds or arms on the pilot
    DECIDE = "decide"  # adopt, reject or defer
    EDIT_ROI = "edit_roi"  # the ROI inputs
    MANAGE_USERS = "manage_users"  # the Users page


_NEEDS: dict[Action, Permission] = {
    Action.SUBMIT: Permission.SUBMIT,
    Action.CANCEL: Permission.MANAGE_OWN_PILOTS,
    Action.RETRY: Permission.MANAGE_OWN_PILOTS,
    Action.DELETE: Permission.MANAGE_OWN_PILOTS,
    Action.ANNOTATE: Permission.MANAGE_OWN_PILOTS,
    Action.EXTEND: Permission.MANAGE_OWN_PILOTS,
    Action.DECIDE: Permission.DECIDE,
    Action.EDIT_ROI: Permission.EDIT_ROI,
    Action.MANAGE_USERS: Permission.ADMIN,
}


def may_manage(me: MeOut | None, owner: str | None) -> bool:
    """Whether the signed-in user may change a pilot of ``owner``: the API's rule (owner or admin)."""
    if me is None or Permission.MANAGE_OWN_PILOTS not in me.permissions:
        return False
    return me.user.role == Role.ADMIN.value or (owner is not None and me.user.name == owner)


def _active_runs(pilot: Any) -> int:
    counts: dict[str, int] = pilot.progress.runs_by_status
    return sum(counts.get(status, 0) for status in ACTIVE_STATUSES)


def may(me: MeOut | None, action: str, pilot: Any = None, run: Any = None) -> bool:
    """Whether to offer ``action`` (an :class:`Action` value) to the user, on ``pilot`` (a ``PilotOut``) and
    ``run`` (a ``RunOut``) where the action is about one. An unknown action is never offered."""
    try:
        wanted = Action(action)
    except ValueError:
        return False
    needed = _NEEDS[wanted]
    if me is None or needed not in me.permissions:
        return False
    if needed is Permission.MANAGE_OWN_PILOTS and not (pilot is not None and may_manage(me, pilot.created_by)):
        return False
    if wanted is Action.CANCEL:
        return run.status in (RunStatus.QUEUED, RunStatus.RUNNING) if run is not None else _active_runs(pilot) > 0
    if wanted is Action.RETRY:
        return run is not None and run.status in RETRYABLE
    if wanted is Action.DELETE:
        return _active_runs(pilot) == 0
    return True
