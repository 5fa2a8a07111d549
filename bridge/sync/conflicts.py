"""Keeping the losing side of a conflict where a user can find it, and settling it later."""

from __future__ import annotations

import copy
import logging
import re
import time
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Any

from ..mapping import MappingError, from_vcard, to_vcard
from ..private import make_private, private_dir, write_private
from ..store import Book, Conflict, Outbox
from ..store.kinds import ConflictOutcome
from .fields import Contact

log = logging.getLogger("bridge.sync")


class Keep(Enum):
    """Which side of a conflict a user keeps, on every field the conflict is about."""

    CURRENT = "current"  # what the book serves now: the merge's result, or the deletion
    # The losing version's value of each conflicting field, written through the normal
    # write path; every other field stays as merged. A conflict that names no fields (a
    # folder's, a deletion's) is about the whole card: the losing card comes back whole.
    OTHER = "other"


class ConflictGoneError(LookupError):
    """No such conflict in this book, or a user settled it already."""


class ConflictKeeper:
    """Records each conflict in the store and writes the losing card to
    ``<data_dir>/conflicts/<owner>/<book>/<href stem>.<time>.vcf``, private to its owner
    (0600 files in 0700 folders): they hold contact data."""

    def __init__(self, outbox: Outbox, data_dir: str | Path) -> None:
        self.outbox = outbox
        self.root = Path(data_dir) / "conflicts"
        make_private(self.root)  # made by an older version with the umask's mode

    def keep(
        self,
        book: Book,
        href: str,
        outcome: ConflictOutcome,
        fields: list[str],
        lost_contact: Contact | None,
        lost_vcard: str | None,
        *,
        logged_by_caller: bool = False,
    ) -> str:
        """Returns where the losing version now lives (a file path, or the store).

        ``logged_by_caller``: the caller logs the conflict itself, in words of its own
        (the folder's, naming the file), so that it is logged once, not twice."""
        path = str(self._write(book, href, lost_vcard)) if lost_vcard else None
        self.outbox.record_conflict(book.id, href, outcome, fields, lost_contact, lost_vcard, path)
        where = path or "the store's conflicts table"
        if logged_by_caller:
            return where
        log.warning(
            "conflict on %s/%s (%s; fields: %s): losing version kept at %s",
            book.path,
            href,
            outcome,
            ", ".join(fields) or "-",
            where,
        )
        return where

    def open_conflict(self, book: Book, conflict_id: int) -> Conflict:
        """The book's unsettled conflict ``conflict_id``; raises ConflictGoneError."""
        conflict = self.outbox.conflict(conflict_id)
        if conflict is None or conflict.book_id != book.id or conflict.resolved is not None:
            raise ConflictGoneError(f"no open conflict #{conflict_id} in {book.path}")
        return conflict

    def settle(self, conflict: Conflict) -> None:
        """Mark it settled and remove its file: the user has chosen, and the file held the
        version they kept (now the book's) or the one they let go."""
        if not self.outbox.resolve_conflict(conflict.id):
            raise ConflictGoneError(f"conflict #{conflict.id} was settled meanwhile")
        if conflict.path and Path(conflict.path).resolve().is_relative_to(self.root.resolve()):
            Path(conflict.path).unlink(missing_ok=True)

    def _write(self, book: Book, href: str, vcard: str) -> Path:
        folder = self.root / book.owner / book.name
        for level in (self.root, self.root / book.owner, folder):
            private_dir(level)
        stem = re.sub(r"[^A-Za-z0-9_-]", "_", href.removesuffix(".vcf"))[:80]
        path = folder / f"{stem}.{time.strftime('%Y%m%dT%H%M%S')}.{time.time_ns() % 10**6}.vcf"
        write_private(path, vcard.encode("utf-8"))
        return path


def losing_card(conflict: Conflict, version: str, uid: str | None = None) -> str | None:
    """The losing version as a card: the text kept, else rendered from its JSON (a
    local-wins conflict keeps what Aurinko had, which never was a card here) with the UID
    of the card it competed with."""
    if conflict.lost_vcard:
        return conflict.lost_vcard
    if conflict.lost_json is None:
        return None
    return to_vcard(conflict.lost_json, version, uid=uid)


def losing_contact(conflict: Conflict) -> Contact | None:
    """The losing version as a contact: its JSON, else read from its card (a folder's
    file); None for a deletion or a card that cannot be read."""
    if conflict.lost_json is not None:
        return conflict.lost_json
    if not conflict.lost_vcard:
        return None
    try:
        return from_vcard(conflict.lost_vcard).contact
    except MappingError:
        return None


_ABSENT: Any = object()


def value_at(contact: Contact, path: str) -> Any:
    """The value at a dotted path (``name.givenName``), or None where there is none."""
    value: Any = contact
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def taking(current: Contact, other: Contact, paths: Iterable[str]) -> Contact:
    """``current`` with ``other``'s value at each dotted path (none there: removed); the
    paths are the merge's (objects key by key, lists whole)."""
    result = copy.deepcopy(current)
    for path in paths:
        *parents, last = path.split(".")
        source: Any = other
        for key in [*parents, last]:
            source = source.get(key, _ABSENT) if isinstance(source, dict) else _ABSENT
        target = result
        for key in parents:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        if source is _ABSENT or source is None:
            target.pop(last, None)
        else:
            target[last] = copy.deepcopy(source)
    return result
