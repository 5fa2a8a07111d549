"""Typed rows of the store. JSON columns are decoded only where a caller needs them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .interface import Row
from .kinds import BookKind, WriteOp

Json = dict[str, Any]


def dumps(value: Json | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def loads(text: str | None) -> Json | None:
    return None if text is None else json.loads(text)


@dataclass(frozen=True)
class Book:
    id: int
    owner: str
    name: str
    kind: BookKind
    props: Json
    vcard_version: str
    updated_token: str | None
    deleted_token: str | None
    resync_generation: int
    resync_running: bool
    change_floor: int
    last_pull: float | None
    resync_resume: Json | None = None  # {"page": token, "deleted": token} of a listing
    last_push: float | None = None  # when a write of this book last reached Aurinko

    @property
    def path(self) -> str:
        return f"{self.owner}/{self.name}"

    @classmethod
    def from_row(cls, row: Row) -> Book:
        return cls(
            id=row["id"],
            owner=row["owner"],
            name=row["name"],
            kind=BookKind(row["kind"]),
            props=json.loads(row["props"]),
            vcard_version=row["vcard_version"],
            updated_token=row["updated_token"],
            deleted_token=row["deleted_token"],
            resync_generation=row["resync_generation"],
            resync_running=bool(row["resync_running"]),
            change_floor=row["change_floor"],
            last_pull=row["last_pull"],
            resync_resume=loads(row["resync_resume"]),
            last_push=row["last_push"],
        )


@dataclass(frozen=True)
class ItemMeta:
    """What a listing needs: names and versions, not even the card's text."""

    href: str
    uid: str
    etag: str
    last_modified: float


@dataclass(frozen=True)
class ListedCard:
    """One card of a streamed listing: its byte length without its text, unless asked for."""

    href: str
    etag: str
    last_modified: float
    length: int  # of the UTF-8 card (0 unless asked for)
    vcard: str | None
    version: str | None  # the vCard version of ``vcard``, read with it


@dataclass(frozen=True)
class StoredItem:
    """A served card and its names: no JSON, no parsing."""

    href: str
    uid: str
    etag: str
    vcard: str
    last_modified: float
    version: str  # the vCard version ``vcard`` is in: its writer's, or the account's


@dataclass(frozen=True)
class ContactRow:
    """One contact as stored: the served card plus everything needed to sync it."""

    book_id: int
    href: str
    uid: str
    contact: Json  # the Aurinko JSON the served card renders
    etag: str
    vcard: str
    last_modified: float
    remote_id: str | None = None
    remote_etag: str | None = None
    remote_json: Json | None = None  # last state seen upstream: the three-way merge base
    shadow: str | None = None  # the client's original card, for lossless rendering
    version: str = "3.0"  # the vCard version ``vcard`` is in (3.0 or 4.0)
    held: Json | None = None  # fields Aurinko refused, as the card has them (not sent)

    @classmethod
    def from_row(cls, row: Row) -> ContactRow:
        return cls(
            book_id=row["book_id"],
            href=row["href"],
            uid=row["uid"],
            contact=json.loads(row["contact_json"]),
            etag=row["etag"],
            vcard=row["vcard"],
            last_modified=row["last_modified"],
            remote_id=row["remote_id"],
            remote_etag=row["remote_etag"],
            remote_json=loads(row["remote_json"]),
            shadow=row["shadow"],
            version=row["version"],
            held=loads(row["held_json"]),
        )


@dataclass(frozen=True)
class OutboxOp:
    """A local write waiting to reach Aurinko, in the order it was made."""

    id: int
    book_id: int
    href: str
    op: WriteOp
    remote_id: str | None
    base_etag: str | None
    base_json: Json | None
    local_json: Json | None
    uncertain: bool  # its request may have been applied: never folded into; a create is
    # looked for upstream before it is sent again
    attempts: int
    last_error: str | None = None
    failed: bool = False  # refused for good: parked until a user retries or drops it

    @classmethod
    def from_row(cls, row: Row) -> OutboxOp:
        return cls(
            id=row["id"],
            book_id=row["book_id"],
            href=row["href"],
            op=WriteOp(row["op"]),
            remote_id=row["remote_id"],
            base_etag=row["base_etag"],
            base_json=loads(row["base_json"]),
            local_json=loads(row["local_json"]),
            uncertain=bool(row["uncertain"]),
            attempts=row["attempts"],
            last_error=row["last_error"],
            failed=bool(row["failed"]),
        )


@dataclass(frozen=True)
class Conflict:
    """A field-level conflict and what happened to the losing side."""

    id: int
    book_id: int
    href: str
    # A ConflictOutcome's value; kept as text so that a row from a newer version still reads.
    outcome: str
    fields: list[str] = field(default_factory=list)
    lost_json: Json | None = None
    lost_vcard: str | None = None
    created: float = 0.0
    path: str | None = None  # the file holding ``lost_vcard``, when one was written
    resolved: float | None = None  # when a user settled it
