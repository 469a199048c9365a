"""``rblock-pilot user ...`` and ``rblock-pilot token ...``: accounts from the command line, on DATABASE_URL.

    rblock-pilot user add NAME --role engineer     prints a one-time password (or --password-stdin)
    rblock-pilot user list
    rblock-pilot user set NAME [--role ROLE] [--disable | --enable] [--reset-password] [--limit KEY=VALUE ...]
    rblock-pilot token create USER [--name LABEL]  prints the token alone on stdout (for scripts)
    rblock-pilot token list [--user USER]
    rblock-pilot token revoke ID

Whoever can run these can read the database anyway; the API's rules (admins only) guard the web instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rblock-pilot", description="Users and API tokens, in the database named by DATABASE_URL."
    )
    groups = parser.add_subparsers(dest="group", required=True)

    user = groups.add_parser("user", help="users and roles").add_subparsers(dest="action", required=True)
    add = user.add_parser("add", help="add a user; prints a one-time password unless --password-stdin")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("admin", "engineer", "viewer"))
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    user.add_parser("list", help="every user with role and state")
    change = user.add_parser("set", help="change a user's role or state, or reset their password")
    change.add_argument("name")
    change.add_argument("--role", choices=("admin", "engineer", "viewer"))
    state = change.add_mutually_exclusive_group()
    state.add_argument("--disable", action="store_true", help="no sign-in, no token works")
    state.add_argument("--enable", action="store_true")
    change.add_argument("--reset-password", action="store_true", help="print a new one-time password")
    change.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="raise one of the user's spending limits (runs_per_pilot, epochs, upload_quota_bytes, ...; "
        "KEY=default: back to the setting); repeat for several",
    )

    token = groups.add_parser("token", help="API tokens").add_subparsers(dest="action", required=True)
    create = token.add_parser("create", help="a new token for USER, printed alone on stdout")
    create.add_argument("user")
    create.add_argument("--name", default="cli", help="what the token is for (default: cli)")
    listing = token.add_parser("list", help="tokens (never the tokens themselves)")
    listing.add_argument("--user", default=None)
    revoke = token.add_parser("revoke", help="revoke a token by its id (see token list)")
    revoke.add_argument("id", type=int)
    return parser


def _run(args: Any) -> int:
    from backend.auth.accounts import create_user, issue_token, reset_password
    from backend.settings import Settings
    from backend.store import Store

    store = Store(Settings().database_url)
    try:
        store.upgrade()
        if args.group == "user" and args.action == "add":
            password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
            user, one_time = create_user(store, name=args.name, role=args.role, password=password)
            print(f"added {user.name} ({user.role})", file=sys.stderr)
            if one_time:
                print(f"one-time password (shown once; changed at the first sign-in): {one_time}")
        elif args.group == "user" and args.action == "list":
            for user in store.accounts.list_users():
                state = (
                    "disabled" if user.disabled else ("must change password" if user.must_change_password else "active")
                )
                print(f"{user.name}\t{user.role}\t{state}")
        elif args.group == "user" and args.action == "set":
            changes = _limit_changes(args.limit)
            disabled = True if args.disable else (False if args.enable else None)
            user = store.accounts.update_user(name=args.name, role=args.role, disabled=disabled)
            print(f"{user.name}: {user.role}, {'disabled' if user.disabled else 'enabled'}", file=sys.stderr)
            if changes:
                limits = store.usage.set_user_limits(name=args.name, changes=changes)
                shown = ", ".join(f"{key}={value:g}" for key, value in sorted(limits.items())) or "the defaults"
                print(f"{user.name}: limits {shown}", file=sys.stderr)
            if args.reset_password:
                print(f"one-time password (shown once): {reset_password(store, name=args.name)}")
        elif args.group == "token" and args.action == "create":
            record, token = issue_token(store, user_name=args.user, label=args.name)
            print(f"token {record.id} ({record.name}) for {record.user_name}; shown once:", file=sys.stderr)
            print(token)
        elif args.group == "token" and args.action == "list":
            for t in store.accounts.list_tokens(user_name=args.user):
                state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
                print(f"{t.id}\t{t.user_name}\t{t.name}\t{t.prefix}...\t{state}")
        elif args.group == "token" and args.action == "revoke":
            t = store.accounts.revoke_token(token_id=args.id)
            print(f"revoked token {t.id} ({t.name}) of {t.user_name}", file=sys.stderr)
        return 0
    finally:
        store.dispose()


def _limit_changes(items: Sequence[str]) -> dict[str, float | None]:
    """``--limit KEY=VALUE`` arguments as store changes (``KEY=default`` drops the user's own value)."""
    from backend.auth.accounts import AccountError
    from backend.quotas import LIMITS, parse_limit

    changes: dict[str, float | None] = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            if value.strip() == "default" and key.strip() in LIMITS:
                changes[key.strip()] = None
            else:
                parsed_key, number = parse_limit(item)
                changes[parsed_key] = number
        except ValueError as error:
            raise AccountError(str(error)) from None
    return changes


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    from backend.auth.accounts import AccountError
    from backend.store import StoreError

    try:
        return _run(args)
    except (AccountError, StoreError) as error:
        print(f"rblock-pilot {args.group}: {error}", file=sys.stderr)
        return 2
