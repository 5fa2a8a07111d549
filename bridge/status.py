"""What a user needs to know about each address book: is it in sync, what waits to go up,
what Aurinko refused, which conflicts were kept, and does the account's token still work.

One collection feeds both ``aurinko-bridge status`` and the status page of ``serve``.
Everything but the token check is read from the store; the check asks Aurinko once per
account (``GET /v1/account``), briefly and without retries.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from .aurinko import NO_RETRY, AurinkoClient, AurinkoError, UnauthorizedError
from .config import AccountConfig, Config, ConfigError
from .store import Book, Conflict, OutboxOp
from .store.kinds import BookKind, WriteOp
from .sync import SyncEngine

CHECK_TIMEOUT = 5.0  # a status must come back even when Aurinko does not


class TokenState(Enum):
    OK = "ok"
    REFUSED = "refused"  # Aurinko does not know the token: the account must be linked again
    DEAD = "dead"  # the provider's grant is dead: ``account relink`` renews it in place
    RETRYING = "retrying"  # tokenStatus invalid: Aurinko still tries the provider
    UNREACHABLE = "unreachable"  # no answer to go by
    UNREADABLE = "unreadable"  # the token file or variable cannot be read
    UNCHECKED = "unchecked"
    LOCAL = "local"  # a local book has no account


@dataclass(frozen=True)
class TokenCheck:
    state: TokenState
    detail: str = ""
    provider: str | None = None  # Aurinko's service type (Google, Office365, ...), once checked
    who: str | None = None  # the account's email address or name, once checked


@dataclass(frozen=True)
class ParkedWrite:
    id: int
    op: WriteOp
    href: str
    reason: str
    attempts: int


@dataclass(frozen=True)
class HeldField:
    """A field the card and Aurinko disagree on because Aurinko would not take the card's:
    a value it refused (``removal`` False), or a removal it did not make (True: Aurinko
    still has the field; the card keeps the user's removal)."""

    href: str
    field: str
    removal: bool


@dataclass(frozen=True)
class KeptConflict:
    id: int
    href: str
    outcome: str  # a ConflictOutcome's value
    fields: list[str]
    created: float
    path: str | None  # the losing card's file, when it was written to one


@dataclass(frozen=True)
class BookStatus:
    owner: str
    name: str
    kind: BookKind
    account: str | None  # the configured account (its base URL), None for a local book
    last_pull: float | None
    last_push: float | None
    contacts: int
    waiting: int  # writes in the outbox that will be sent
    parked: list[ParkedWrite] = field(default_factory=list)
    conflicts: list[KeptConflict] = field(default_factory=list)
    held: list[HeldField] = field(default_factory=list)
    token: TokenCheck = TokenCheck(TokenState.UNCHECKED)
    account_name: str | None = None  # the account's display name, None for a local book

    @property
    def path(self) -> str:
        return f"{self.owner}/{self.name}"


def collect(
    engine: SyncEngine, config: Config, *, owner: str | None = None, check_tokens: bool = True
) -> list[BookStatus]:
    """Every book (or ``owner``'s), with the token of each configured account checked; a
    configured account that never synced yet is listed too, empty."""
    accounts = {(a.user, a.name): a for a in config.accounts if owner in (None, a.user)}
    books = engine.store.list_books(owner)
    stored = [accounts.get((b.owner, b.name)) for b in books]
    seen = {(b.owner, b.name) for b in books}
    unsynced = [a for key, a in accounts.items() if key not in seen]
    checks = _check_all([*stored, *unsynced], check_tokens)
    statuses = [
        book_status(engine, book, account, check)
        for book, account, check in zip(books, stored, checks, strict=False)
    ]
    statuses += [_never_synced(a, c) for a, c in zip(unsynced, checks[len(books) :], strict=True)]
    return sorted(statuses, key=lambda s: (s.owner, s.name))


def _never_synced(account: AccountConfig, token: TokenCheck) -> BookStatus:
    return BookStatus(
        owner=account.user,
        name=account.name,
        kind=BookKind.AURINKO,
        account=account.base_url,
        account_name=account.display_name or account.name,
        last_pull=None,
        last_push=None,
        contacts=0,
        waiting=0,
        token=token,
    )


def book_status(
    engine: SyncEngine, book: Book, account: AccountConfig | None, token: TokenCheck
) -> BookStatus:
    return BookStatus(
        owner=book.owner,
        name=book.name,
        kind=book.kind,
        account=account.base_url if account else None,
        account_name=(account.display_name or account.name) if account else None,
        last_pull=book.last_pull,
        last_push=book.last_push,
        contacts=engine.store.count(book.id),
        waiting=len(engine.outbox.pending(book.id)),
        parked=[_parked(op) for op in engine.outbox.failed(book.id)],
        conflicts=[_kept(c) for c in engine.outbox.conflicts(book.id, unresolved=True)],
        held=[
            HeldField(href, name, value is None)
            for href, fields in engine.store.all_held(book.id)
            for name, value in sorted(fields.items())
        ],
        token=token if book.kind == BookKind.AURINKO else TokenCheck(TokenState.LOCAL),
    )


def check_token(account: AccountConfig, timeout: float = CHECK_TIMEOUT) -> TokenCheck:
    """Whether Aurinko still accepts the account's token."""
    try:
        token = account.read_token()
    except ConfigError as exc:
        return TokenCheck(TokenState.UNREADABLE, str(exc))
    try:
        with AurinkoClient(token, account.base_url, timeout=timeout, retry=NO_RETRY) as client:
            info = client.account()
    except UnauthorizedError as exc:
        return TokenCheck(TokenState.DEAD if exc.grant_dead else TokenState.REFUSED, exc.message)
    except AurinkoError as exc:
        return TokenCheck(TokenState.UNREACHABLE, exc.message)
    if info.token_status == "invalid":
        return TokenCheck(TokenState.RETRYING, "Aurinko marks the token invalid")
    if info.token_status not in (None, "active"):
        return TokenCheck(TokenState.DEAD, f"Aurinko marks the token {info.token_status}")
    who = info.email or info.name or ""
    return TokenCheck(
        TokenState.OK,
        f"{info.service_type or 'account'} {who}".strip(),
        info.service_type,
        who or None,
    )


def _check_all(accounts: list[AccountConfig | None], check: bool) -> list[TokenCheck]:
    """One check per configured account (None: a local book), in the order given."""
    unchecked = TokenCheck(TokenState.UNCHECKED)

    def one(account: AccountConfig | None) -> TokenCheck:
        return check_token(account) if account is not None else unchecked

    if not check or not any(accounts):
        return [unchecked for _ in accounts]
    # In parallel: a page waits for the slowest account, not for their sum.
    with ThreadPoolExecutor(max_workers=min(8, len(accounts))) as pool:
        return list(pool.map(one, accounts))


def _parked(op: OutboxOp) -> ParkedWrite:
    return ParkedWrite(op.id, op.op, op.href, op.last_error or "refused", op.attempts)


def _kept(conflict: Conflict) -> KeptConflict:
    return KeptConflict(
        conflict.id,
        conflict.href,
        conflict.outcome,
        list(conflict.fields),
        conflict.created,
        conflict.path,
    )


def as_json(statuses: Iterable[BookStatus]) -> list[dict[str, Any]]:
    """JSON-ready dicts: times as epoch seconds plus their age, enums as their values."""
    now = time.time()
    out = []
    for status in statuses:
        item = asdict(status)
        item["path"] = status.path
        item["token"] = {"state": status.token.state.value, "detail": status.token.detail}
        for key in ("last_pull", "last_push"):
            when = item[key]
            item[f"{key}_age"] = None if when is None else round(max(0.0, now - when), 1)
        out.append(item)
    return out


def token_words(status: BookStatus) -> str:
    """What the token check means for the user, for ``status`` and the status page."""
    if status.token.state is TokenState.DEAD:
        return f"token dead: run aurinko-bridge account relink {status.path}"
    if status.token.state is TokenState.RETRYING:
        return "Aurinko is retrying: it cannot reach the provider with the token for now"
    return _TOKEN_WORDS[status.token.state]


_TOKEN_WORDS = {
    TokenState.OK: "token works",
    TokenState.REFUSED: "token refused by Aurinko: link the account again (account remove, add)",
    TokenState.UNREACHABLE: "token not checked: Aurinko unreachable",
    TokenState.UNREADABLE: "token unreadable",
    TokenState.UNCHECKED: "token not checked",
    TokenState.LOCAL: "no token (a local address book)",
}


def held_words(held: HeldField) -> str:
    """One line on a held field, for ``status`` and the status page."""
    if held.removal:
        return (
            f"{held.field} removed on the card, but Aurinko did not remove it (it keeps its"
            " value upstream); the card keeps the removal"
        )
    return f"{held.field} refused by Aurinko; the card keeps it, Aurinko does not have it"


def age(when: float | None, now: float | None = None) -> str:
    """``12 s ago``, ``5 min ago``, ``3 h ago`` or a date; ``never`` for None."""
    if when is None:
        return "never"
    seconds = max(0, int((now or time.time()) - when))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h ago"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(when))
