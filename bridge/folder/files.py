"""Files of a vCard folder: safe names, atomic writes, editor litter, multi-card files."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

_SAFE = re.compile(r"^[A-Za-z0-9@_+-][A-Za-z0-9@._+-]{0,150}$")
# Swap, backup and temp files editors write next to the real one (vim, emacs, gedit,
# JetBrains, our own atomic writes), which must never be read as cards.
_LITTER = re.compile(r"(^\.|~$|\.sw[a-p]$|\.tmp$|^#.*#$|\.bak$|___jb_\w+___$)")
_BEGIN = re.compile(r"^BEGIN:VCARD\s*$", re.IGNORECASE)
_END = re.compile(r"^END:VCARD\s*$", re.IGNORECASE)


def filename_for(href: str) -> str:
    """A stable file name for ``href``: itself when safe, else a digest of it."""
    name = href if href.lower().endswith(".vcf") else f"{href}.vcf"
    if _SAFE.match(name):
        return name
    return hashlib.sha256(href.encode("utf-8")).hexdigest()[:32] + ".vcf"


def is_card_file(path: Path) -> bool:
    return path.suffix.lower() == ".vcf" and not _LITTER.search(path.name)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ``write_atomic(..., replaces=ABSENT)``: the file must not exist yet.
ABSENT = ""


class FileChangedError(OSError):
    """The file changed after it was read: nothing was written over it."""


def write_atomic(path: Path, data: bytes, *, replaces: str | None = None) -> None:
    """Temp file in the same folder, fsync, rename: readers see old or new, never half.

    The file is private to its owner (0600: cards hold contact data). ``replaces`` is the
    digest of the content the caller decided to overwrite (``ABSENT``: no file): it is
    checked again right before the rename, and FileChangedError raised when someone wrote
    the file meanwhile, so a save made while the data was prepared is not overwritten.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if replaces is not None and _current_digest(path) != replaces:
            raise FileChangedError(f"{path} changed while it was being replaced")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _current_digest(path: Path) -> str:
    try:
        return digest(path.read_bytes())
    except FileNotFoundError:
        return ABSENT


@dataclass(frozen=True)
class CardText:
    text: str
    line: int  # where its BEGIN:VCARD stands in the file, 1-based


def split_cards(text: str) -> list[CardText]:
    """The cards of a (possibly multi-card) file, as Google, Apple and Outlook export
    them. Text outside BEGIN/END pairs is ignored; an unterminated card is kept so the
    mapping reports it."""
    cards: list[CardText] = []
    current: list[str] | None = None
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if current is None:
            if _BEGIN.match(line):
                current, start = [line], number
            continue
        current.append(line)
        if _END.match(line):
            cards.append(CardText("\r\n".join(current) + "\r\n", start))
            current = None
    if current is not None:
        cards.append(CardText("\r\n".join(current) + "\r\n", start))
    return cards
