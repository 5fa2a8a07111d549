"""Files the bridge writes hold contact data or secrets: they are private to their owner
(0600 files in 0700 folders) whatever the umask, since a library user (the plugin inside a
plain Radicale) never runs our command line and its umask is usually 022."""

from __future__ import annotations

import fcntl
import logging
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("bridge")

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_OTHERS = 0o077  # group and other bits


def private_dir(path: Path, *, tighten: bool = True) -> Path:
    """``path`` as a folder, created 0700 with any missing parents (``mkdir -p`` gives
    parents the umask's mode). An existing ``path`` that lets group or others in loses those
    bits when ``tighten`` (the data directory); a folder the user made and named to us (an
    export target) is theirs to set, so callers pass ``tighten=False`` for it."""
    missing: list[Path] = []
    current = path
    while not os.path.lexists(current) and current.parent != current:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # another process made it first, with its own mode
        os.chmod(folder, PRIVATE_DIR)  # mkdir's mode passes through the umask
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a folder")
    if tighten and not missing:
        make_private(path)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty and 0600 if missing (so that what writes it next, SQLite for
    one, finds it private), or take group and other bits off an existing one."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        _tighten(path, os.fstat(fd), lambda mode: os.fchmod(fd, mode))
    finally:
        os.close(fd)
    return path


def make_private(path: Path) -> None:
    """Take group and other bits off ``path`` if it exists (and is ours to change)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    _tighten(path, info, lambda mode: os.chmod(path, mode))


def _tighten(path: Path, info: os.stat_result, chmod: Callable[[int], None]) -> None:
    mode = stat.S_IMODE(info.st_mode)
    if not mode & _OTHERS:
        return
    try:
        chmod(mode & ~_OTHERS)
    except PermissionError:  # not ours (a folder an administrator made): say so, go on
        log.warning("%s is readable by other users and cannot be made private", path)


def write_private(path: Path, data: bytes) -> None:
    """Write ``path`` atomically (a temp file beside it, then a rename), 0600 from the start:
    a reader sees the old file or the new one, never a part, and the rename itself is synced
    to survive a crash."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), PRIVATE_FILE)  # a temp file left by a crash: its old mode
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


@contextmanager
def edit_lock(path: Path) -> Iterator[None]:
    """An exclusive lock for a read-modify-write of ``path``, taken on ``<path>.lock``
    (never on the file itself, which each edit replaces): two editors never lose each
    other's change."""
    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def replace_file(path: Path, data: bytes, mode: int, owner: int | None = None) -> None:
    """``path`` atomically holds ``data`` with ``mode`` (and ``owner``, if given): a temp
    file beside it, fsynced, renamed over it, and the folder fsynced so the rename survives
    a crash."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            if owner is not None and owner != os.geteuid():
                os.fchown(out.fileno(), owner, -1)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
