"""The CardDAV users' htpasswd file, with bcrypt hashes (``$2b$``), which Radicale's
``htpasswd_encryption = autodetect`` verifies: no Apache tools needed.

Every change is a read-modify-write under an exclusive lock (``<file>.lock``), so two
writers at once both land, and ends in an atomic replace by a private (0600) file written
beside it: a running server, which reads the file again when it changes, never sees half a
file. Other users' lines, comments and blank lines are kept byte for byte.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import bcrypt

from .config import SEGMENT
from .private import PRIVATE_FILE, edit_lock, replace_file

# A user name is the first path segment of their books (/<user>/<book>/): the rule of an
# account's ``user`` in the configuration.
USER_NAME = SEGMENT
MAX_PASSWORD_BYTES = 72  # bcrypt's limit (bcrypt 5 refuses longer, older ones truncate)
DEFAULT_ROUNDS = 12  # bcrypt's cost: 2**12 rounds, about a quarter of a second


class UserError(ValueError):
    """A name or password that cannot be used, or a user who is (or is not) there."""


def check_user(user: str) -> str:
    if not USER_NAME.fullmatch(user):
        raise UserError(
            f"invalid user name {user!r}: up to 64 letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    return user


def check_password(password: str) -> bytes:
    """The password as bcrypt takes it (UTF-8), or UserError saying what is wrong."""
    if not password:
        raise UserError("the password is empty")
    if any(c in password for c in "\r\n\0"):
        raise UserError("the password holds a line break or a NUL character")
    try:
        data = password.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError("the password is not valid text (UTF-8)") from None
    if len(data) > MAX_PASSWORD_BYTES:
        raise UserError(
            f"the password is {len(data)} bytes long in UTF-8; bcrypt takes at most"
            f" {MAX_PASSWORD_BYTES}"
        )
    return data


def hash_password(password: str, rounds: int | None = None) -> str:
    """A ``$2b$`` hash; ``rounds`` (4 to 31) lowers or raises the cost (tests use 4)."""
    salt = bcrypt.gensalt(rounds or DEFAULT_ROUNDS)
    return bcrypt.hashpw(check_password(password), salt).decode("ascii")


def users(path: Path) -> list[str]:
    """The users in ``path``, in file order (none when the file does not exist)."""
    return [login for login, _ in _entries(_read(path))]


def set_password(path: Path, user: str, password: str, *, rounds: int | None = None) -> None:
    """Add ``user`` or replace their password."""
    _store(path, check_user(user), hash_password(password, rounds), exists=None)


def add_user(path: Path, user: str, password: str, *, rounds: int | None = None) -> None:
    """Add ``user``; UserError when they (or a name differing only in case) are there."""
    _store(path, check_user(user), hash_password(password, rounds), exists=False)


def change_password(path: Path, user: str, password: str, *, rounds: int | None = None) -> None:
    """Replace an existing user's password; UserError when there is no such user."""
    _store(path, check_user(user), hash_password(password, rounds), exists=True)


def ensure_password(path: Path, user: str, password: str, *, rounds: int | None = None) -> bool:
    """Set ``user``'s password unless their stored hash already verifies it (the file,
    its mtime included, is then left alone); True when the file was written."""
    check_user(user)
    secret = check_password(password)
    stored = dict(_entries(_read(path))).get(user)
    if stored is not None and _verifies(secret, stored):
        return False
    set_password(path, user, password, rounds=rounds)
    return True


def remove_user(path: Path, user: str) -> bool:
    """Remove ``user`` (every line of theirs); False when there was none."""
    check_user(user)

    def edit(lines: list[str]) -> list[str] | None:
        kept = [line for line in lines if _login(line) != user]
        return kept if len(kept) != len(lines) else None

    return _update(path, edit)


def _verifies(secret: bytes, stored: str) -> bool:
    try:
        return bcrypt.checkpw(secret, stored.encode("utf-8", "surrogateescape"))
    except ValueError:  # not a bcrypt hash (SHA-512, APR1...): set a new one
        return False


def _store(path: Path, user: str, hashed: str, *, exists: bool | None) -> None:
    """Write ``user:hashed`` in place of the user's line (later duplicates dropped) or at
    the end; ``exists`` True/False requires the user to be there / not to be there."""
    entry = f"{user}:{hashed}\n"

    def edit(lines: list[str]) -> list[str] | None:
        logins = [login for line in lines if (login := _login(line)) is not None]
        if exists is False:
            same = [login for login in logins if login.lower() == user.lower()]
            if same:
                raise UserError(f"user {same[0]} already exists in {path}")
        if exists is True and user not in logins:
            raise UserError(f"no user {user} in {path}")
        out: list[str] = []
        placed = False
        for line in lines:
            if _login(line) != user:
                out.append(line)
            elif not placed:  # the first of the user's lines, in its place
                out.append(entry)
                placed = True
        if not placed:
            if out and not out[-1].endswith("\n"):
                out[-1] += "\n"
            out.append(entry)
        return out

    _update(path, edit)


def _login(line: str) -> str | None:
    """The login of an entry line as Radicale reads it; None for comments and blanks."""
    text = line.rstrip("\r\n")
    if not text.strip() or text.lstrip().startswith("#") or ":" not in text:
        return None
    return text.split(":", 1)[0]


def _entries(lines: list[str]) -> Iterator[tuple[str, str]]:
    seen: set[str] = set()
    for line in lines:
        login = _login(line)
        if login is not None and login not in seen:  # Radicale keeps the first of duplicates
            seen.add(login)
            yield login, line.rstrip("\r\n").split(":", 1)[1]


def _read(path: Path) -> list[str]:
    """The file's lines as they are: endings kept, undecodable bytes carried through."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as file:
            return list(file)
    except FileNotFoundError:
        return []


def _update(path: Path, edit: Callable[[list[str]], list[str] | None]) -> bool:
    """Read, ``edit`` (None: nothing to change) and replace ``path``, under its lock."""
    if not path.parent.is_dir():  # no file, no lock: only "nothing to change" or refusals
        if edit([]) is None:
            return False
        raise UserError(f"{path}: its folder does not exist")
    with edit_lock(path):
        lines = _read(path)
        changed = edit(lines)
        if changed is None:
            return False
        _replace(path, "".join(changed))
        return True


def _replace(path: Path, text: str) -> None:
    """``path`` atomically holds ``text``, 0600 and owned by the old file's owner (root
    editing the file of the user the server runs as leaves it readable by the server)."""
    try:
        old: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        old = None
    if old is not None and not stat.S_ISREG(old.st_mode):
        raise UserError(f"{path} is not a regular file")
    data = text.encode("utf-8", "surrogateescape")
    replace_file(path, data, PRIVATE_FILE, owner=old.st_uid if old is not None else None)
