"""Three-way merge of a local and a remote edit against the version both started from."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from .fields import READ_ONLY, Contact, writable


class ConflictPolicy(enum.StrEnum):
    """Who wins when both sides changed the same field differently."""

    REMOTE_WINS = "remote-wins"
    LOCAL_WINS = "local-wins"


@dataclass
class MergeResult:
    merged: Contact
    conflicts: list[str] = field(default_factory=list)  # dotted paths changed on both sides
    lost: Contact = field(default_factory=dict)  # the losing side's value of each conflict


_MISSING: Any = object()


def _merge_value(
    path: str, base: Any, local: Any, remote: Any, policy: ConflictPolicy, result: MergeResult
) -> Any:
    if local == remote:
        return local
    if local == base:
        return remote
    if remote == base:
        return local
    if isinstance(local, dict) and isinstance(remote, dict):
        shared = base if isinstance(base, dict) else {}
        return _merge_dicts(path, shared, local, remote, policy, result)
    result.conflicts.append(path)
    winner, loser = (remote, local) if policy is ConflictPolicy.REMOTE_WINS else (local, remote)
    result.lost[path] = None if loser is _MISSING else loser
    return winner


def _merge_dicts(
    prefix: str,
    base: dict[str, Any],
    local: dict[str, Any],
    remote: dict[str, Any],
    policy: ConflictPolicy,
    result: MergeResult,
) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key in sorted(set(base) | set(local) | set(remote)):
        value = _merge_value(
            f"{prefix}.{key}" if prefix else key,
            base.get(key, _MISSING),
            local.get(key, _MISSING),
            remote.get(key, _MISSING),
            policy,
            result,
        )
        if value is not _MISSING:
            merged[key] = value
    return merged


def merge3(
    base: Contact | None, local: Contact, remote: Contact, policy: ConflictPolicy
) -> MergeResult:
    """Field by field (objects such as ``name`` key by key; lists whole, as PATCH sends them).

    Changes to different fields both survive; the same field changed differently on both
    sides follows ``policy``, and the losing value is reported so it can be kept.
    """
    result = MergeResult(merged={})
    theirs = writable(remote)
    ours = [_with_their_photo_id(writable(side), theirs) for side in (base or {}, local)]
    result.merged = _merge_dicts("", ours[0], ours[1], theirs, policy, result)
    for key in READ_ONLY:
        if key in remote:
            result.merged[key] = remote[key]
    return result


def _with_their_photo_id(contact: Contact, remote: Contact) -> Contact:
    """``contact`` with the remote's photo when the two differ only in the photo's ``id``,
    which the server assigns: a write's answer carries no image, so the photo kept as the
    merge base is the one sent, without it. Unchanged that way, a photo is never a conflict."""
    mine, theirs = contact.get("photo"), remote.get("photo")
    if isinstance(mine, dict) and isinstance(theirs, dict) and _image(mine) == _image(theirs):
        return {**contact, "photo": theirs}
    return contact


def _image(photo: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in photo.items() if key != "id"}
