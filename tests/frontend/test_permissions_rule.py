"""``frontend.permissions.may``: the one rule the templates ask, against each role, owner and state."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from backend.auth.roles import GRANTS, Role
from backend.auth.schemas import MeOut
from frontend.permissions import Action, may


def _me(name: str, role: Role) -> MeOut:
    return MeOut.model_validate(
        {
            "user": {
                "name": name,
                "role": role.value,
                "disabled": False,
                "must_change_password": False,
                "created_at": "2026-11-30T12:00:00Z",
            },
            "via": "token",
            "permissions": sorted(p.value for p in GRANTS[role]),
            "csrf_token": None,
        }
    )


def _pilot(owner: str | None, **runs: int) -> Any:
    return SimpleNamespace(created_by=owner, progress=SimpleNamespace(runs_by_status=runs))


def _run(status: str) -> Any:
    return SimpleNamespace(status=status)


ANA, BOB, VIC, ROOT = (
    _me("ana", Role.ENGINEER),
    _me("bob", Role.ENGINEER),
    _me("vic", Role.VIEWER),
    _me("root", Role.ADMIN),
)


@pytest.mark.parametrize(
    ("me", "expected"),
    [
        (ANA, {"submit", "cancel", "annotate", "extend", "edit_roi"}),
        (BOB, {"submit", "edit_roi"}),
        (VIC, {"decide", "edit_roi"}),
        (ROOT, {"submit", "cancel", "annotate", "extend", "decide", "edit_roi", "manage_users"}),
        (None, set()),
    ],
)
def test_actions_on_an_active_pilot_of_ana(me: MeOut | None, expected: set[str]) -> None:
    active = _pilot("ana", queued=1, succeeded=1)
    assert {action.value for action in Action if may(me, action, active)} == expected


def test_state_decides_cancel_retry_and_delete() -> None:
    done = _pilot("ana", succeeded=1, failed=1)
    assert not may(ANA, "cancel", done) and may(ANA, "delete", done)
    assert may(ANA, "retry", done, _run("failed")) and may(ANA, "retry", done, _run("cancelled"))
    assert not may(ANA, "retry", done, _run("succeeded")) and not may(ANA, "retry", done)
    running = _pilot("ana", running=1, cancelling=1)
    assert may(ANA, "cancel", running) and not may(ANA, "delete", running)
    assert may(ANA, "cancel", running, _run("running")) and not may(ANA, "cancel", running, _run("cancelling"))
    # A pilot without a recorded owner is the admin's alone, as the API rules; an unknown action is never offered.
    orphan = _pilot(None, succeeded=1)
    assert not may(ANA, "delete", orphan) and may(ROOT, "delete", orphan)
    assert not may(ROOT, "launch the rockets", done)
