"""``rblock-pilot user ...`` and ``rblock-pilot token ...`` on a real SQLite database."""

from __future__ import annotations

import io

import pytest

from backend.auth.secrets import digest
from backend.store import Store
from pilot_cli.main import main


@pytest.fixture
def database(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    return sqlite_url


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_users_and_tokens_from_the_command_line(
    database: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(capsys, "user", "add", "ana", "--role", "engineer")
    assert code == 0 and "added ana (engineer)" in err
    one_time = out.strip().rsplit(" ", 1)[-1]
    assert len(one_time) >= 16
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert run(capsys, "user", "add", "vic", "--role", "viewer", "--password-stdin")[0] == 0
    code, out, _ = run(capsys, "user", "list")
    assert out.splitlines() == ["ana\tengineer\tmust change password", "vic\tviewer\tactive"]

    # No token for a user whose one-time password is still to be changed (it would outlive it).
    code, _, err = run(capsys, "token", "create", "ana", "--name", "ci")
    assert code == 2 and "one-time password" in err
    code, out, err = run(capsys, "token", "create", "vic", "--name", "ci")
    token = out.strip()
    assert code == 0 and token.startswith("rbp_") and "shown once" in err
    store = Store(database)
    assert store.accounts.user_for_token(token_hash=digest(token)).name == "vic"  # type: ignore[union-attr]
    code, out, _ = run(capsys, "token", "list")
    assert out.startswith("1\tvic\tci\trbp_") and token not in out
    assert run(capsys, "token", "revoke", "1")[0] == 0
    assert store.accounts.user_for_token(token_hash=digest(token)) is None

    code, _, err = run(capsys, "user", "set", "ana", "--disable", "--role", "viewer")
    assert code == 0 and "viewer, disabled" in err
    code, out, _ = run(capsys, "user", "set", "ana", "--enable", "--reset-password")
    assert code == 0 and "one-time password" in out
    code, _, err = run(capsys, "user", "set", "ana", "--limit", "epochs=5000", "--limit", "runs_per_pilot=300")
    assert code == 0 and "limits epochs=5000, runs_per_pilot=300" in err
    assert store.usage.user_limits(name="ana") == {"epochs": 5000.0, "runs_per_pilot": 300.0}
    code, _, err = run(capsys, "user", "set", "ana", "--limit", "epochs=default")
    assert code == 0 and store.usage.user_limits(name="ana") == {"runs_per_pilot": 300.0}
    code, _, err = run(capsys, "user", "set", "ana", "--limit", "gpus=3")
    assert code == 2 and "--limit takes KEY=VALUE" in err
    store.dispose()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("user", "add", "ana", "--role", "engineer"), "a user named 'ana' already exists"),
        (("user", "add", "bad name", "--role", "viewer"), "is not allowed"),
        (("user", "set", "ghost", "--enable"), "no user named 'ghost'"),
        (("token", "create", "ghost"), "no user named 'ghost'"),
        (("token", "revoke", "99"), "no API token with id 99"),
    ],
)
@pytest.mark.usefixtures("database")
def test_mistakes_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    run(capsys, "user", "add", "ana", "--role", "engineer")
    code, _, err = run(capsys, *args)
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.usefixtures("database")
def test_an_unknown_role_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["user", "add", "x", "--role", "root"])
    assert exited.value.code == 2 and "invalid choice: 'root'" in capsys.readouterr().err
