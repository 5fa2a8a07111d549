"""Contact writes: create, patch (with If-Match), delete. Each write is one change-log entry,
and, once committed, one call of the change listener (the webhook notifier)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bridge.sandbox.errors import ApiError, contact_not_found
from bridge.sandbox.etags import matches, new_etag
from bridge.sandbox.profiles import ProfileState
from bridge.sandbox.records import rfc3339
from bridge.sandbox.store import ContactRow, Store
from bridge.sandbox.validation import ContactInput

# (account, contact id, "created" | "updated" | "deleted"), called after the write.
ChangeListener = Callable[[int, str, str], None]


def _ignore(account: int, contact_id: str, change: str) -> None:
    pass


def _new_id() -> str:
    # Opaque and URL-safe, like provider ids; long enough never to collide.
    return "c" + secrets.token_urlsafe(18)


def _new_photo(photo: dict[str, Any]) -> dict[str, Any]:
    # The photo gets an id when the client does not give one, like a provider would.
    return {"id": photo.get("id") or secrets.token_hex(8), **photo}


def _members_kept(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` with each member sent as ``""`` keeping its stored value (``empty_unchanged``)."""
    out = {key: value for key, value in new.items() if value != ""}
    out.update({key: old[key] for key, value in new.items() if value == "" and key in old})
    return out


def _merged(
    row: ContactRow, body: ContactInput, keep_empty: bool = False
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """PATCH semantics: named top-level fields replace (arrays whole); null removes.
    ``keep_empty``: an object's members sent as ``""`` are left as they were."""
    data = dict(row.data)
    for key, value in body.fields.items():
        if value is None:
            data.pop(key, None)
        elif keep_empty and isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = _members_kept(data[key], value)
        else:
            data[key] = value
    photo = row.photo
    if body.photo_given:
        photo = _new_photo(body.photo) if body.photo is not None else None
    return data, photo


class ContactService:
    """The write side of ``/v1/contacts``; reads go straight to the store."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float],
        profile: ProfileState,
        on_change: ChangeListener = _ignore,
    ) -> None:
        self._store = store
        self._clock = clock
        self._profile = profile
        self._on_change = on_change

    def _new_etag(self) -> str:
        return new_etag(self._profile.config.rules.etag_style)

    def create(self, account: int, body: ContactInput) -> ContactRow:
        now = rfc3339(self._clock())
        data = {key: value for key, value in body.fields.items() if value is not None}
        photo = _new_photo(body.photo) if body.photo is not None else None
        with self._store.transaction():
            seq = self._store.next_seq(account)
            row = ContactRow(_new_id(), self._new_etag(), now, now, seq, data, photo, None)
            self._store.put(account, row)
        self._on_change(account, row.id, "created")
        return row

    def patch(
        self, account: int, contact_id: str, if_match: str | None, body: ContactInput
    ) -> ContactRow:
        with self._store.transaction():
            row = self._store.get(account, contact_id)
            if row is None:
                raise contact_not_found()
            if if_match is None:
                raise ApiError(412, "precondition.failed", "If-Match header is required")
            if not matches(if_match, row.etag, self._profile.config.weak_etags):
                raise ApiError(412, "precondition.failed", "ETag does not match")
            data, photo = _merged(row, body, self._profile.config.empty_unchanged)
            updated = replace(
                row, etag=self._new_etag(), modified=rfc3339(self._clock()),
                seq=self._store.next_seq(account), data=data, photo=photo,
            )  # fmt: skip
            self._store.update(account, updated)
        self._on_change(account, contact_id, "updated")
        return updated

    def delete(self, account: int, contact_id: str) -> None:
        with self._store.transaction():
            row = self._store.get(account, contact_id)
            if row is None:
                raise contact_not_found()
            # A tombstone needs only its id, sequence and time; drop the payload.
            tombstone = replace(
                row, seq=self._store.next_seq(account), deleted=rfc3339(self._clock()),
                data={}, photo=None,
            )  # fmt: skip
            self._store.update(account, tombstone)
        self._on_change(account, contact_id, "deleted")
