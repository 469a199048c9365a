"""Files that hold secrets (the SQLite database and broker: argon2 hashes, CSRF tokens) are the owner's alone.

Created here with mode 0600 before SQLite or kombu first opens them, so they are never world-readable,
whatever the process's umask. SQLite makes its ``-wal`` and ``-shm`` files with the database file's mode.
The settings (API, worker, ``rblock-pilot up``) and the store both call this: either may open a file first.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_MODE = 0o600


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (an existing file is left as it is)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        return
    except OSError:
        return  # a read-only or missing folder: SQLite reports the real problem when it opens the file
    os.close(fd)
    os.chmod(path, PRIVATE_MODE)  # O_CREAT's mode is reduced by the umask; 0600 is what we mean
