"""
Where the token refresh locks live: a directory private to the user the provider runs as.

A lock under a predictable name in the shared temporary directory can be held first by any local user (every
refresh then waits and fails), or replaced by a symbolic link to a file of the Airflow user's. The locks live
instead in ``<temp dir>/airflow-provider-contacts-<uid>``, created with mode 0700 and checked before each use:
a real directory (not a symbolic link), owned by this process's user, that no one else may enter. A directory
that fails the check is refused with an error that says what to do; nothing is repaired silently, since
another user may have planted files in it already. The lock files themselves are opened by ``filelock``,
which refuses to follow a symbolic link (3.20.1 for its Unix lock, 3.20.3 for its soft lock).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from airflow_provider_contacts.exceptions import ContactsAuthError

PREFIX = "airflow-provider-contacts-"


def lock_directory() -> Path:
    """The path of this user's lock directory (not created here)."""
    return Path(tempfile.gettempdir()) / f"{PREFIX}{os.getuid()}"


def private_lock_directory() -> Path:
    """
    Create this user's lock directory if needed (mode 0700), check it, and return its path.

    :raises ContactsAuthError: it is a symbolic link or not a directory, belongs to another user, or others
        may enter it.
    """
    path = lock_directory()
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    info = os.lstat(path)
    uid = os.getuid()
    problem = None
    if stat.S_ISLNK(info.st_mode):
        problem = "is a symbolic link; remove it"
    elif not stat.S_ISDIR(info.st_mode):
        problem = "is not a directory; remove it"
    elif info.st_uid != uid:
        problem = (
            f"belongs to uid {info.st_uid}, not to uid {uid} that runs this process: another local user "
            "created it first; remove it (as root) and find out who did"
        )
    elif stat.S_IMODE(info.st_mode) & 0o077:
        problem = f"has mode {oct(stat.S_IMODE(info.st_mode))}: only its owner may have access (chmod 700 it)"
    if problem:
        raise ContactsAuthError(
            f"the token refresh lock directory {path} {problem}. Token refreshes are refused until then: a "
            "lock others can reach lets them stall or misdirect the refresh",
            status=None,
        )
    return path
