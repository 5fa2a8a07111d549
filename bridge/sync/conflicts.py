"""Keeping the losing side of a conflict where a user can find it."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

from ..private import make_private, private_dir, write_private
from ..store import Book, Outbox
from .fields import Contact

log = logging.getLogger("bridge.sync")


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
        outcome: str,
        fields: list[str],
        lost_contact: Contact | None,
        lost_vcard: str | None,
    ) -> str:
        """Returns where the losing version now lives (a file path, or the store)."""
        self.outbox.record_conflict(book.id, href, outcome, fields, lost_contact, lost_vcard)
        where = "the store's conflicts table"
        if lost_vcard:
            where = str(self._write(book, href, lost_vcard))
        log.warning(
            "conflict on %s/%s (%s; fields: %s): losing version kept at %s",
            book.path,
            href,
            outcome,
            ", ".join(fields) or "-",
            where,
        )
        return where

    def _write(self, book: Book, href: str, vcard: str) -> Path:
        folder = self.root / book.owner / book.name
        for level in (self.root, self.root / book.owner, folder):
            private_dir(level)
        stem = re.sub(r"[^A-Za-z0-9_-]", "_", href.removesuffix(".vcf"))[:80]
        path = folder / f"{stem}.{time.strftime('%Y%m%dT%H%M%S')}.{time.time_ns() % 10**6}.vcf"
        write_private(path, vcard.encode("utf-8"))
        return path
