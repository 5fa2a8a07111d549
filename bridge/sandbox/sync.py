"""Sync start and the two delta chains (``sync/updated`` and ``sync/deleted``).

A run starts from a delta token holding sequence S. Its first page snapshots the
account's current sequence H; every page of the run then covers changes in (S, H],
ordered by (seq, id), and the last page hands out a delta token at H. A contact that
changes while the run is paging gets a sequence above H and so shows up in the next
run: nothing is lost, and nothing is promised twice within one run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from bridge.sandbox.errors import bad_request, token_expired, token_not_valid
from bridge.sandbox.profiles import ProfileState
from bridge.sandbox.records import render, render_deleted
from bridge.sandbox.store import ContactRow, Store
from bridge.sandbox.tokens import (
    Chain,
    DeltaToken,
    ListToken,
    PageToken,
    Token,
    TokenCodec,
    TokenInvalid,
)

_RunToken = TypeVar("_RunToken", DeltaToken, PageToken)


class SyncService:
    def __init__(
        self,
        store: Store,
        codec: TokenCodec,
        clock: Callable[[], float],
        page_size: int,
        token_ttl: float | None,
        profile: ProfileState,
    ) -> None:
        self._store = store
        self._profile = profile
        self._codec = codec
        self._clock = clock
        self._page_size = page_size
        self._ttl = token_ttl

    def start(self, account: int) -> dict[str, Any]:
        """A ready ``SyncStatus``: a full-load updated token and a deleted token at 'now'."""
        now = self._clock()
        seq = self._store.current_seq(account)
        updated = DeltaToken(account, "updated", 0, True, now)
        deleted = DeltaToken(account, "deleted", seq, False, now)
        return {
            "syncUpdatedToken": self._codec.encode(updated),
            "syncDeletedToken": self._codec.encode(deleted),
            "ready": True,
        }

    def page(
        self, account: int, chain: Chain, delta_token: str | None, page_token: str | None
    ) -> dict[str, Any]:
        """One ``ContactsPage`` (or ``DeletedPage``) of a run."""
        position = self._position(account, chain, delta_token, page_token)
        rows = self._store.changes(
            account, chain, position.start, position.high,
            (position.after_seq, position.after_id), self._page_size + 1,
        )  # fmt: skip
        return self._answer(position, rows)

    def _position(
        self, account: int, chain: Chain, delta_token: str | None, page_token: str | None
    ) -> PageToken:
        if delta_token and page_token:
            raise bad_request("Pass either deltaToken or pageToken, not both")
        if page_token:
            token = self._verified(account, chain, page_token, PageToken, "Page token")
            self._check_age(token.issued, token.start, token.full, account)
            return token
        if delta_token:
            delta = self._verified(account, chain, delta_token, DeltaToken, "Delta token")
            self._check_age(delta.issued, delta.seq, delta.full, account)
            # The first page of a run fixes its high-water mark.
            high = self._store.current_seq(account)
            return PageToken(
                account, chain, delta.seq, high, delta.full, delta.seq, "", delta.issued
            )
        raise bad_request("Missing query parameter 'deltaToken' (or 'pageToken')")

    def _verified(
        self, account: int, chain: Chain, text: str, kind: type[_RunToken], label: str
    ) -> _RunToken:
        try:
            token: Token = self._codec.decode(text)
        except TokenInvalid as exc:
            raise token_not_valid(f"{label} is invalid") from exc
        # A token of another kind, chain or account is as unusable as a forged one.
        if not isinstance(token, kind):
            raise token_not_valid(f"{label} is invalid: wrong kind of token")
        if token.account != account:
            raise token_not_valid(f"{label} is invalid: issued to another account")
        if token.chain != chain:
            raise token_not_valid(f"{label} is invalid: issued for sync/{token.chain}")
        return token

    def _check_age(self, issued: float, start: int, full: bool, account: int) -> None:
        if self._ttl is not None and self._clock() - issued > self._ttl:
            raise token_expired()
        # A full load needs no history, so compaction cannot invalidate it.
        if not full and start < self._store.floor(account):
            raise token_expired()

    def _answer(self, position: PageToken, rows: list[ContactRow]) -> dict[str, Any]:
        more = len(rows) > self._page_size
        rows = rows[: self._page_size]
        weak = self._profile.config.weak_etags
        if position.chain == "updated":
            records = [render(row, with_photo=False, weak=weak) for row in rows]
        else:
            records = [render_deleted(row) for row in rows]
        page: dict[str, Any] = {"length": len(records), "records": records}
        now = self._clock()
        if more:
            last = rows[-1]
            cursor = PageToken(
                position.account, position.chain, position.start, position.high,
                position.full, last.seq, last.id, now,
            )  # fmt: skip
            page["nextPageToken"] = self._codec.encode(cursor)
        else:
            delta = DeltaToken(position.account, position.chain, position.high, False, now)
            page["nextDeltaToken"] = self._codec.encode(delta)
        return page

    def list_page(self, account: int, page_token: str | None) -> dict[str, Any]:
        """``GET /v1/contacts``: live contacts by id, in the ``ContactsPage`` shape."""
        after = ""
        if page_token:
            try:
                token = self._codec.decode(page_token)
            except TokenInvalid as exc:
                raise token_not_valid("Page token is invalid") from exc
            if not isinstance(token, ListToken) or token.account != account:
                raise token_not_valid("Page token is invalid")
            after = token.after_id
        rows = self._store.live_after(account, after, self._page_size + 1)
        weak = self._profile.config.weak_etags
        page: dict[str, Any] = {
            "length": min(len(rows), self._page_size),
            "records": [
                render(row, with_photo=False, weak=weak) for row in rows[: self._page_size]
            ],
        }
        if len(rows) > self._page_size:
            last = rows[self._page_size - 1]
            page["nextPageToken"] = self._codec.encode(ListToken(account, last.id, self._clock()))
        return page
