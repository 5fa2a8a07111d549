"""Settling a kept conflict: keep the book's version, or write the losing one back."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.sync import ConflictGoneError, ConflictPolicy, Keep
from bridge.sync.merge import merge3
from tests.conftest import TOKEN
from tests.sync.conftest import Env, vcard


def _conflict_on_nickname(env: Env) -> int:
    """Ann's nickname edited here (while Aurinko is down) and on another device; the
    default policy keeps the remote one and files the local card away."""
    env.engine.put(env.book, "a.vcf", vcard("uid-a", "Ann"))
    env.sandbox.set_faults(error_rate=1.0, error_statuses=(503,), retry_after=None)
    env.engine.put(env.book, "a.vcf", vcard("uid-a", "Ann", "NICKNAME:Local"))
    env.sandbox.set_faults(error_rate=0.0)
    row = env.engine.store.get(env.book.id, "a.vcf")
    assert row is not None and row.remote_id
    current = env.remote.get(row.remote_id)
    env.remote.update(row.remote_id, {"nickName": "Remote"}, etag=current["etag"])
    assert len(env.engine.sync(env.book).conflicts) == 1
    (conflict,) = env.engine.outbox.conflicts(env.book.id, unresolved=True)
    return conflict.id


def _upstream_nickname(env: Env) -> str:
    row = env.engine.store.get(env.book.id, "a.vcf")
    assert row is not None and row.remote_id
    return str(env.remote.get(row.remote_id).get("nickName"))


def test_keeping_the_losing_version_writes_it_back_to_aurinko(env: Env) -> None:
    conflict_id = _conflict_on_nickname(env)
    path = env.engine.outbox.conflict(conflict_id).path  # type: ignore[union-attr]
    assert path and "NICKNAME:Local" in Path(path).read_text(encoding="utf-8")
    env.engine.resolve_conflict(env.book, conflict_id, Keep.OTHER)
    env.engine.sync(env.book)
    assert _upstream_nickname(env) == "Local"
    assert "NICKNAME:Local" in env.card("a.vcf")
    assert env.engine.outbox.conflicts(env.book.id, unresolved=True) == []
    assert not Path(path).exists()


def test_keeping_the_current_version_changes_nothing_upstream(env: Env) -> None:
    conflict_id = _conflict_on_nickname(env)
    before = env.card("a.vcf")
    env.engine.resolve_conflict(env.book, conflict_id, Keep.CURRENT)
    assert env.engine.outbox.count(env.book.id) == 0
    assert env.card("a.vcf") == before and _upstream_nickname(env) == "Remote"
    assert env.engine.outbox.conflicts(env.book.id, unresolved=True) == []


def test_a_settled_conflict_cannot_be_settled_again(env: Env) -> None:
    conflict_id = _conflict_on_nickname(env)
    env.engine.resolve_conflict(env.book, conflict_id, Keep.CURRENT)
    with pytest.raises(ConflictGoneError):
        env.engine.resolve_conflict(env.book, conflict_id, Keep.OTHER)
    assert _upstream_nickname(env) == "Remote"


def test_a_conflict_of_another_book_is_not_found(env: Env) -> None:
    conflict_id = _conflict_on_nickname(env)
    other = env.engine.create_local_book("bob", "private", {})
    with pytest.raises(ConflictGoneError):
        env.engine.resolve_conflict(other, conflict_id, Keep.OTHER)


def test_a_remote_deletion_can_be_undone_by_keeping_the_local_card(env: Env) -> None:
    env.engine.put(env.book, "a.vcf", vcard("uid-a", "Ann"))
    env.sandbox.set_faults(error_rate=1.0, error_statuses=(503,), retry_after=None)
    env.engine.put(env.book, "a.vcf", vcard("uid-a", "Ann", "NICKNAME:Local"))
    env.sandbox.set_faults(error_rate=0.0)
    row = env.engine.store.get(env.book.id, "a.vcf")
    assert row is not None and row.remote_id
    env.remote.delete(row.remote_id)
    env.engine.sync(env.book)
    assert env.engine.store.get(env.book.id, "a.vcf") is None
    (conflict,) = env.engine.outbox.conflicts(env.book.id, unresolved=True)
    assert conflict.outcome == "deleted-remotely"
    env.engine.resolve_conflict(env.book, conflict.id, Keep.OTHER)
    env.engine.sync(env.book)
    assert "NICKNAME:Local" in env.card("a.vcf")
    assert [c.get("nickName") for c in env.sandbox.dump(TOKEN)] == ["Local"]


@pytest.mark.parametrize("policy", [ConflictPolicy.LOCAL_WINS])
def test_local_wins_keeps_aurinkos_version_and_it_can_be_restored(env: Env) -> None:
    conflict_id = _conflict_on_nickname(env)
    assert _upstream_nickname(env) == "Local"
    conflict = env.engine.outbox.conflict(conflict_id)
    assert conflict is not None and conflict.lost_vcard is None and conflict.path is None
    env.engine.resolve_conflict(env.book, conflict_id, Keep.OTHER)
    env.engine.sync(env.book)
    assert _upstream_nickname(env) == "Remote" and "NICKNAME:Remote" in env.card("a.vcf")


def _conflict_beside_other_edits(env: Env) -> tuple[int, str]:
    """Ann's phone (here) and email (on another device) edited apart, her nickname on
    both: one conflict, on the nickname alone."""
    env.engine.put(env.book, "a.vcf", vcard("uid-a", "Ann"))
    env.sandbox.set_faults(error_rate=1.0, error_statuses=(503,), retry_after=None)
    edit = vcard("uid-a", "Ann", "NICKNAME:Local", "TEL;TYPE=CELL:+15550100")
    env.engine.put(env.book, "a.vcf", edit)
    env.sandbox.set_faults(error_rate=0.0)
    row = env.engine.store.get(env.book.id, "a.vcf")
    assert row is not None and row.remote_id
    current = env.remote.get(row.remote_id)
    email = [{"address": "ann@remote.example", "type": "home"}]
    env.remote.update(
        row.remote_id, {"nickName": "Remote", "emailAddresses": email}, etag=current["etag"]
    )
    env.engine.sync(env.book)
    (conflict,) = env.engine.outbox.conflicts(env.book.id, unresolved=True)
    assert conflict.fields == ["nickName"]
    return conflict.id, row.remote_id


@pytest.mark.parametrize("keep", [Keep.OTHER, ("nickName",)])
def test_keeping_the_losing_side_keeps_every_change_outside_the_conflict(
    env: Env, keep: Keep | tuple[str, ...]
) -> None:
    conflict_id, remote_id = _conflict_beside_other_edits(env)
    env.engine.resolve_conflict(env.book, conflict_id, keep)
    env.engine.sync(env.book)
    upstream = env.remote.get(remote_id)
    assert upstream.get("nickName") == "Local"
    assert [e["address"] for e in upstream["emailAddresses"]] == ["ann@remote.example"]
    assert [p["number"] for p in upstream["phoneNumbers"]] == ["+15550100"]
    served = env.card("a.vcf")
    assert "NICKNAME:Local" in served and "ann@remote.example" in served
    assert "+15550100" in served


def test_a_photo_differing_only_in_its_server_id_is_no_conflict() -> None:
    """The merge base keeps the photo we sent (a write's answer has no image, so no id);
    the server's has its id. A removal on the card then wins without a conflict."""
    sent = {"mimeType": "image/png", "content": "iVBORw0KGgo="}
    base = {"id": "c1", "name": {"displayName": "A"}, "photo": sent}
    remote = {**base, "etag": "e2", "photo": {**sent, "id": "p-77"}}
    local = {"name": {"displayName": "A"}}  # the photo removed on the card
    result = merge3(base, local, remote, ConflictPolicy.REMOTE_WINS)
    assert result.conflicts == [] and "photo" not in result.merged
    changed = {**remote, "photo": {**sent, "id": "p-78", "content": "R0lGODlh"}}
    assert merge3(base, local, changed, ConflictPolicy.REMOTE_WINS).conflicts == ["photo"]
