"""File modes of the data directory: 0700 for directories, 0600 for files, whatever the umask.

The database holds every message and the users' token hashes; nobody but the server's own OS
user should read it. Modes are given explicitly when creating (not left to the umask) and
files that already exist with looser modes are tightened at start.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("server_stub.datadir")

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def make_private_dir(path: Path) -> list[Path]:
    """Create ``path`` and any missing parents with mode 0700; returns the directories created."""
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    created: list[Path] = []
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:  # created concurrently: treat as pre-existing
            continue
        os.chmod(d, DIR_MODE)  # mkdir's mode is filtered by the umask; chmod is not
        created.append(d)
    return created


def tighten(path: Path, mode: int) -> None:
    """chmod ``path`` to ``mode`` when it exists, is ours and allows more than ``mode``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & ~mode:
        os.chmod(path, stat.S_IMODE(st.st_mode) & mode)


def prepare_database(path: str, *, dedicated_dir: bool = False) -> None:
    """Make the database's directory 0700 and the database file (and WAL/SHM/journal) 0600.

    The file is created here with ``os.open(..., 0o600)`` before SQLite opens it; SQLite gives the
    ``-wal``/``-shm``/``-journal`` files it creates the database file's mode. An existing data
    directory is tightened when it is ``dedicated_dir`` (the default location) or holds nothing but
    the server's own files; a directory shared with other files (``--data ./x.sqlite3``) is only
    reported, since changing the mode of e.g. the working directory would surprise.
    """
    db = Path(path)
    data_dir = db.parent
    created = make_private_dir(data_dir)
    if data_dir not in created:
        own = {db.name, "objects", db.name + ".lock", *(db.name + s for s in SQLITE_SIDE_FILES)}  # .lock: ops.py
        loose = stat.S_IMODE(os.stat(data_dir).st_mode) & ~DIR_MODE
        if loose and (dedicated_dir or {e.name for e in os.scandir(data_dir)} <= own):
            tighten(data_dir, DIR_MODE)
        elif loose:
            log.warning("data directory %s is readable by other users (mode %o); the database files are "
                        "0600, but consider a private directory for --data", data_dir,
                        stat.S_IMODE(os.stat(data_dir).st_mode), extra={"operationID": ""})
    fd = os.open(db, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.close(fd)
    for p in (db, *(Path(str(db) + s) for s in SQLITE_SIDE_FILES)):
        tighten(p, FILE_MODE)
