"""What the Contacts API returns, as typed values, with the vendor's spelling variants folded."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ProtocolError

Contact = dict[str, Any]


@dataclass(frozen=True)
class SyncStart:
    """The two independent token chains a fresh remote sync hands out."""

    updated_token: str
    deleted_token: str


@dataclass(frozen=True)
class DeletedRecord:
    id: str
    timestamp: str | None


@dataclass(frozen=True)
class UpdatedPage:
    """One page of ``sync/updated``. ``next_delta_token`` is set only on a run's last page."""

    records: list[Contact]
    next_page_token: str | None
    next_delta_token: str | None


@dataclass(frozen=True)
class DeletedPage:
    """One page of ``sync/deleted``. ``next_delta_token`` is set only on a run's last page."""

    records: list[DeletedRecord]
    next_page_token: str | None
    next_delta_token: str | None


@dataclass(frozen=True)
class WriteResult:
    """The ``ContactOrId`` answer of POST and PATCH. Its name says "or id": the contact may
    be missing (``{id, etag}``, even ``{id}`` alone); then ``complete`` is False and
    ``record`` holds only what the answer said."""

    id: str
    etag: str | None
    record: Contact
    complete: bool = True


@dataclass(frozen=True)
class AccountInfo:
    """``GET /v1/account`` (``ApiAccountOutDto``): who the token belongs to and whether
    Aurinko can still reach the provider with it (``token_status`` ``active``, ``invalid``
    or ``dead``; None when the answer does not say)."""

    id: int | None
    service_type: str | None
    email: str | None
    name: str | None
    token_status: str | None


# Older vendor documents spell two fields differently; the client reads both and
# always writes the spec names (see the contract's decisions table).
_COMPANY_ALIASES = {"companyName": "name", "yomiName": "yomiCompanyName"}
_URL_ALIASES = {"value": "href"}
_RELATION_ALIASES = {"value": "name"}


def _rename(entry: Any, aliases: Mapping[str, str]) -> Any:
    if not isinstance(entry, dict):
        return entry
    for old, new in aliases.items():
        if old in entry and new not in entry:
            entry[new] = entry.pop(old)
    return entry


def normalize_contact(raw: Any) -> Contact:
    """A contact with spec field names; unknown keys are kept untouched."""
    if not isinstance(raw, dict):
        raise ProtocolError(f"expected a contact object, got {type(raw).__name__}")
    contact = copy.deepcopy(raw)
    _rename(contact.get("company"), _COMPANY_ALIASES)
    for key, aliases in (("urls", _URL_ALIASES), ("relations", _RELATION_ALIASES)):
        if isinstance(contact.get(key), list):
            contact[key] = [_rename(entry, aliases) for entry in contact[key]]
    return contact


def _optional_str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"{key} is {type(value).__name__}, expected a string")
    return value


def _records(body: Mapping[str, Any]) -> list[Any]:
    records = body.get("records") or []
    if not isinstance(records, list):
        raise ProtocolError("records is not a list")
    return records


def parse_sync_start(body: Mapping[str, Any]) -> SyncStart | None:
    """``None`` while the server still prepares the sync (``ready: false``)."""
    if body.get("ready") is False:
        return None
    updated = _optional_str(body, "syncUpdatedToken")
    deleted = _optional_str(body, "syncDeletedToken")
    if updated is None or deleted is None:
        raise ProtocolError("sync start answered ready without both tokens")
    return SyncStart(updated, deleted)


def parse_updated_page(body: Mapping[str, Any]) -> UpdatedPage:
    return UpdatedPage(
        records=[normalize_contact(r) for r in _records(body)],
        next_page_token=_optional_str(body, "nextPageToken"),
        next_delta_token=_optional_str(body, "nextDeltaToken"),
    )


def _deleted_record(raw: Any) -> DeletedRecord:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise ProtocolError("deleted record without an id")
    timestamp = raw.get("timestamp")
    return DeletedRecord(raw["id"], timestamp if isinstance(timestamp, str) else None)


def parse_deleted_page(body: Mapping[str, Any]) -> DeletedPage:
    return DeletedPage(
        records=[_deleted_record(r) for r in _records(body)],
        next_page_token=_optional_str(body, "nextPageToken"),
        next_delta_token=_optional_str(body, "nextDeltaToken"),
    )


def parse_write_result(body: Mapping[str, Any]) -> WriteResult:
    record = normalize_contact(body.get("record") or {})
    contact_id = _optional_str(body, "id") or record.get("id")
    etag = _optional_str(body, "etag") or record.get("etag")
    if not isinstance(contact_id, str):
        raise ProtocolError("write answer without an id")
    complete = bool(body.get("record")) and isinstance(etag, str)
    record.setdefault("id", contact_id)
    if isinstance(etag, str):
        record.setdefault("etag", etag)
    return WriteResult(contact_id, etag if isinstance(etag, str) else None, record, complete)


def parse_account(body: Mapping[str, Any]) -> AccountInfo:
    raw_id = body.get("id")
    return AccountInfo(
        id=raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else None,
        service_type=_optional_str(body, "serviceType"),
        email=_optional_str(body, "email"),
        name=_optional_str(body, "name"),
        token_status=_optional_str(body, "tokenStatus"),
    )


@dataclass(frozen=True)
class Subscription:
    """A webhook subscription (``SubscriptionResponse``): Aurinko POSTs a notification to
    ``notification_url`` when ``resource`` changes, while ``active``; one whose deliveries
    kept failing turns inactive (``fail_since``, ``fail_description`` say since when, why).
    The id is an int64 in the API reference and a string in the guide's example: kept as
    its decimal text."""

    id: str
    resource: str
    notification_url: str
    active: bool = True
    fail_since: str | None = None
    fail_description: str | None = None


def parse_subscription(body: Any) -> Subscription:
    if not isinstance(body, dict):
        raise ProtocolError("subscription is not a JSON object")
    raw_id = body.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (int, str)) or raw_id == "":
        raise ProtocolError("subscription without an id")
    url = body.get("notificationUrl")
    if not isinstance(url, str):
        raise ProtocolError("subscription without a notificationUrl")
    active = body.get("active")
    return Subscription(
        id=str(raw_id),
        resource=_optional_str(body, "resource") or "",
        notification_url=url,
        active=active is not False,  # absent (the guide's example): a new one is active
        fail_since=_optional_str(body, "failSince"),
        fail_description=_optional_str(body, "failDescription"),
    )


def parse_subscriptions_page(body: Mapping[str, Any]) -> tuple[list[Subscription], bool]:
    """One page of ``GET /subscriptions`` (``SubscriptionsPage``): its records, and whether
    it is the last (``done``, or no records left)."""
    records = _records(body)
    done = body.get("done")
    return [parse_subscription(r) for r in records], done is True or not records
