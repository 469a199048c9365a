"""``rblock-pilot COMMAND``: train (local, no server), up (API + worker on embedded defaults), api, worker,
report, user, token, backup and restore."""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = """usage: rblock-pilot COMMAND [options]

commands:
  train    train every arm x seed locally and print a comparison table (no server)
  up       start the whole system on embedded defaults: migrations, the API and one worker
  api      start the API alone (production)
  worker   start one worker alone (production)
  report   write a pilot's report (pdf, html, csv or json) from the database
  user     add users with a role, list them, change a role, disable, reset a password
  token    create, list and revoke API tokens (Authorization: Bearer ...)
  backup   back up the database and the artifacts into a folder (pg_dump or SQLite, tar.gz, manifest)
  restore  restore such a folder into an empty database and ARTIFACT_DIR, then migrate the schema

rblock-pilot COMMAND --help documents each command."""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "train":
        from rblock.cli import main as train_main

        return train_main(["train", *rest])
    if command == "report":
        from pilot_cli.report import main as report_main

        return report_main(rest)
    if command in ("user", "token"):
        from pilot_cli.accounts import main as accounts_main

        return accounts_main([command, *rest])
    if command in ("backup", "restore"):
        from pilot_cli.backup import main as backup_main

        return backup_main(command, rest)
    if command in ("up", "api", "worker"):
        from pilot_cli.service import main as service_main

        return service_main(command, rest)
    print(f"rblock-pilot: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
