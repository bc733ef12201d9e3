"""Secrets for the embedded default only, and the owner-only files of `var/`.

`make run` on a laptop must work with no configuration, yet the secret key and the
field-encryption keys must never live in the code or the database. On first use we
write random ones into `var/local-secrets.json` (git-ignored, outside the
database). Production never reaches `load_or_create`: settings refuse to start without
the environment variables.

`var/` holds those keys and the SQLite database of the embedded default, every name in it:
the folder is made readable by its owner only (0700), and so are the files (0600), whatever
the umask, and tightened when an earlier version left them readable by others.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
from pathlib import Path

# SQLite gives its -wal and -shm files the mode of the database file; these are tightened too when found.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """`path` as a folder only its owner can enter (0700), created if missing."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):  # not ours to change (a shared mount): leave it to its owner
        path.chmod(0o700)
    return path


def private_file(path: Path, *, companions: tuple[str, ...] = ()) -> Path:
    """`path` as a file only its owner can read (0600), created empty if missing (an empty file is an empty
    SQLite database). Files beside it named `path` + each of `companions` are tightened if present."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for each in (path, *(path.with_name(path.name + suffix) for suffix in companions)):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            each.chmod(0o600)
    return path


def load_or_create(path: Path) -> dict[str, str]:
    if path.exists():
        with contextlib.suppress(PermissionError):
            path.chmod(0o600)
        data: dict[str, str] = json.loads(path.read_text())
        return data
    private_dir(path.parent)
    data = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": "k1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "BLIND_INDEX_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "AUDIT_CHAIN_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    # Created readable by the owner only: these keys unlock every name in the database.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    return data
