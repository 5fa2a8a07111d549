"""Adding and removing ``[[accounts]]`` in the user's configuration file, in place.

An edit changes the file's text only where the table goes or was: comments, blank lines,
key order and the other tables stay byte for byte. The edited text must parse (tomllib, then
the bridge's own ``parse_config``) to exactly the old data with that one account added or
removed, or the file is left alone. Edits hold an exclusive lock on ``<config>.lock`` from
read to write, so two commands adding accounts at once both land, and the new file replaces
the old one atomically with the old one's mode (never group- or world-writable).

tomlkit renders the new table's values (TOML escaping); locating tables is done here, on the
text itself, because tomlkit neither keeps an ``[[accounts]]`` array split by other tables
byte for byte nor tells a comment above a table from the end of the table before it.
"""

from __future__ import annotations

import copy
import os
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit

from .config import ConfigError, parse_config
from .private import edit_lock, replace_file

# The keys ``add_account`` writes, in this order; anything else is refused.
ACCOUNT_KEYS = ("name", "user", "base_url", "token_file", "token_env", "display_name")

_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH


@dataclass(frozen=True)
class _Table:
    """One table header of the text: ``[...]`` or ``[[...]]``."""

    start: int  # where its header line begins
    body_end: int  # the end of its last line holding a key (comments after it are not its)
    data: dict[str, Any]  # the header line alone, parsed: {"accounts": [{}]} for [[accounts]]

    @property
    def is_account(self) -> bool:
        return self.data == {"accounts": [{}]}


# -- reading the text -------------------------------------------------------------------


def _skip_string(text: str, i: int) -> int:
    """The index just past the string starting at ``text[i]`` (a quote)."""
    quote = text[i]
    if text.startswith(quote * 3, i):
        j = i + 3
        while j < len(text):
            if quote == '"' and text[j] == "\\":
                j += 2
                continue
            if text.startswith(quote * 3, j):
                j += 3
                # Up to two quotes of the content may sit right before the closing three.
                extra = 0
                while extra < 2 and j < len(text) and text[j] == quote:
                    j += 1
                    extra += 1
                return j
            j += 1
        return j
    j = i + 1
    while j < len(text) and text[j] != "\n":
        if quote == '"' and text[j] == "\\":
            j += 2
            continue
        if text[j] == quote:
            return j + 1
        j += 1
    return j


def _tables(text: str) -> list[_Table]:
    """Every table header of ``text`` (valid TOML) in order, with where its keys end.

    A header is a ``[`` opening a line outside any string, array or inline table.
    """
    found: list[tuple[int, dict[str, Any]]] = []
    content_ends: list[int] = []  # end of each line that holds something besides comments
    i, n, depth = 0, len(text), 0
    line_start, line_has_content = True, False
    while i < n:
        char = text[i]
        if char == "\n":
            if line_has_content:
                content_ends.append(i + 1)
            line_start, line_has_content = True, False
            i += 1
        elif char in " \t\r":
            i += 1
        elif char == "#":
            newline = text.find("\n", i)
            i = n if newline < 0 else newline
        elif line_start and depth == 0 and char == "[":
            begin = text.rfind("\n", 0, i) + 1
            newline = text.find("\n", i)
            end = n if newline < 0 else newline + 1
            found.append((begin, tomllib.loads(text[begin:end])))
            content_ends.append(end)
            line_start, line_has_content = True, False
            i = end
        else:
            line_start, line_has_content = False, True
            if char in "\"'":
                i = _skip_string(text, i)
                continue
            if char in "[{":
                depth += 1
            elif char in "]}":
                depth -= 1
            i += 1
    if line_has_content:
        content_ends.append(n)
    tables = []
    for index, (begin, data) in enumerate(found):
        limit = found[index + 1][0] if index + 1 < len(found) else n
        body_end = max(end for end in content_ends if begin < end <= limit)
        tables.append(_Table(begin, body_end, data))
    return tables


def _load(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _checked(new_text: str, expected: dict[str, Any], path: Path) -> str:
    """``new_text`` when it parses to ``expected`` and is a valid configuration."""
    try:
        new = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: cannot edit it safely ({exc}); edit it by hand") from None
    if new != expected:
        raise ConfigError(f"{path}: cannot edit its layout safely; edit it by hand")
    try:
        parse_config(new, path.resolve().parent, path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: the change would make it invalid: {exc}") from None
    return new_text


# -- the edits, on text -----------------------------------------------------------------


def render_account(entry: Mapping[str, str], newline: str = "\n") -> str:
    """``[[accounts]]`` with ``entry``'s keys in the usual order, values TOML-escaped."""
    unknown = set(entry) - set(ACCOUNT_KEYS)
    if unknown:
        raise ValueError(f"not an account key: {', '.join(sorted(unknown))}")
    lines = ["[[accounts]]"]
    for key in ACCOUNT_KEYS:
        if key in entry:
            lines.append(f"{key} = {tomlkit.string(entry[key]).as_string()}")
    return newline.join(lines) + newline


def add_account_text(text: str, entry: Mapping[str, str], path: Path) -> str:
    """``text`` with the ``[[accounts]]`` table ``entry`` after the last one (or at the end).

    Raises ConfigError when the result would not be a valid configuration (the same
    ``/user/name/`` twice, for one) or cannot be placed safely.
    """
    old = _load(text, str(path))
    newline = _newline(text)
    accounts = [t for t in _tables(text) if t.is_account]
    at = accounts[-1].body_end if accounts else len(text)
    before, after = text[:at], text[at:]
    if before and not before.endswith("\n"):
        before += newline
    block = render_account(entry, newline)
    if before:
        block = newline + block  # a blank line between tables
    expected = copy.deepcopy(old)
    existing = expected.setdefault("accounts", [])
    if not isinstance(existing, list):
        raise ConfigError(f"{path}: accounts is not an array of tables; edit it by hand")
    existing.append(dict(entry))
    return _checked(before + block + after, expected, path)


def remove_account_text(text: str, user: str, name: str, path: Path) -> str:
    """``text`` without the ``[[accounts]]`` table of ``user``/``name`` (exact spelling).

    Comments and blank lines after the table's last key stay: they introduce what follows.
    """
    old = _load(text, str(path))
    raw = old.get("accounts", [])
    accounts = [t for t in _tables(text) if t.is_account]
    if not isinstance(raw, list) or len(raw) != len(accounts):
        raise ConfigError(f"{path}: cannot find its [[accounts]] tables; edit it by hand")
    matches = [
        index
        for index, table in enumerate(raw)
        if isinstance(table, dict) and table.get("user") == user and table.get("name") == name
    ]
    if len(matches) != 1:
        raise ConfigError(f"{path}: no [[accounts]] table with user {user!r} and name {name!r}")
    table = accounts[matches[0]]
    before, after = text[: table.start], text[table.body_end :]
    # The blank line that set the table apart goes with it (add_account puts one before).
    before_blank = before.endswith(("\n\n", "\n\r\n"))
    after_blank = after.startswith(("\n", "\r\n"))
    if (before_blank or not before) and (after_blank or not after):
        if after_blank:
            after = after[after.index("\n") + 1 :]
        elif before_blank:
            before = before.removesuffix("\n").removesuffix("\r")
    expected = copy.deepcopy(old)
    del expected["accounts"][matches[0]]
    if not expected["accounts"]:
        del expected["accounts"]
    return _checked(before + after, expected, path)


# -- the edits, on the file -------------------------------------------------------------


def edit(path: Path, change: Callable[[str, Path], str]) -> None:
    """Apply ``change`` (text, path -> new text) to the file under the lock.

    A symbolic link is followed: the file it names is edited. Raises ConfigError (the
    change refused: the file is unchanged) or OSError.
    """
    real = path.resolve()
    with edit_lock(real):
        try:
            raw = real.read_bytes()
            mode = stat.S_IMODE(os.stat(real).st_mode) & ~_WRITABLE_BY_OTHERS
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text") from None
        new = change(text, path)
        if new != text:
            replace_file(real, new.encode("utf-8"), mode)


def add_account(path: Path, entry: Mapping[str, str]) -> None:
    """Add the ``[[accounts]]`` table ``entry`` to the file at ``path``."""
    edit(path, lambda text, where: add_account_text(text, entry, where))


def remove_account(path: Path, user: str, name: str) -> None:
    """Remove the ``[[accounts]]`` table of ``user``/``name`` from the file at ``path``."""
    edit(path, lambda text, where: remove_account_text(text, user, name, where))
