"""Turning Aurinko records and client cards into store rows, rendered once."""

from __future__ import annotations

import time
from dataclasses import replace

from ..mapping import SERVED_VERSIONS, MappingError, ParsedCard, derive_uid, to_vcard
from ..mapping.parse import ShadowRead
from ..store import Book, ContactRow
from .fields import Contact
from .identity import etag_of, href_for_uid


def served_version(written: str) -> str:
    """The version a card written in ``written`` is stored and served in: its own, so that a
    client reads back what it wrote; 2.1 and version-less cards (read as 3.0) become 3.0."""
    return written if written in SERVED_VERSIONS else "3.0"


def render(
    version: str, contact: Contact, shadow: str | None, uid: str, read: ShadowRead | None = None
) -> tuple[str, str]:
    """The served card and its etag. Raises MappingError for an unrenderable contact."""
    vcard = to_vcard(contact, version, shadow=shadow, uid=uid, read=read)
    return vcard, etag_of(vcard)


def _last_modified(existing: ContactRow | None, etag: str) -> float:
    if existing is not None and existing.etag == etag:
        return existing.last_modified
    return time.time()


def remote_row(book: Book, record: Contact, existing: ContactRow | None) -> ContactRow:
    """The row for a contact as Aurinko holds it; names, shadow and vCard version of
    ``existing`` kept (a remote change is merged into the card as its writer wrote it);
    a contact born in Aurinko gets the account's version."""
    remote_id = str(record["id"])
    uid = existing.uid if existing else derive_uid(record)
    if uid is None:
        raise MappingError("a remote contact without an id")

    href = existing.href if existing else href_for_uid(uid)
    shadow = existing.shadow if existing else None
    version = existing.version if existing else book.vcard_version
    held = existing.held if existing else None
    vcard, etag = render(version, {**record, **(held or {})}, shadow, uid)
    return ContactRow(
        book_id=book.id,
        href=href,
        uid=uid,
        contact=record,
        etag=etag,
        vcard=vcard,
        last_modified=_last_modified(existing, etag),
        remote_id=remote_id,
        remote_etag=record.get("etag"),
        remote_json=record,
        shadow=shadow,
        version=version,
        held=held,
    )


def local_row(
    book: Book,
    href: str,
    uid: str,
    card: ParsedCard,
    existing: ContactRow | None,
) -> ContactRow:
    """The row for a card a client just wrote, in the version it was written in (whatever
    the book's); remote link and merge base kept."""
    version = served_version(card.version)
    vcard, etag = render(version, card.contact, card.shadow, uid, card.read)
    return ContactRow(
        book_id=book.id,
        href=href,
        uid=uid,
        contact=card.contact,
        etag=etag,
        vcard=vcard,
        last_modified=_last_modified(existing, etag),
        remote_id=existing.remote_id if existing else None,
        remote_etag=existing.remote_etag if existing else None,
        remote_json=existing.remote_json if existing else None,
        shadow=card.shadow,
        version=version,
        held=existing.held if existing else None,
    )


def linked_to(row: ContactRow, record: Contact) -> ContactRow:
    """``row`` as served now, with its link to the remote version ``record``."""
    return replace(
        row, remote_id=str(record["id"]), remote_etag=record.get("etag"), remote_json=record
    )
