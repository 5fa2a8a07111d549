"""What the push does with an outbox entry and with each way Aurinko can fail it, decided
apart from doing it: plain inputs in, a named action out (tests/sync/test_plan.py).
``push.Pusher`` sends, reads the answer, and carries the action out."""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass

from ..aurinko import (
    AurinkoError,
    BadRequestError,
    ForbiddenError,
    ProtocolError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
)
from ..mapping import MappingError, diff
from ..store.kinds import ConflictOutcome, WriteOp
from .fields import Contact
from .merge import ConflictPolicy


class SendAction(enum.Enum):
    """The request an outbox entry becomes."""

    POST = "post"
    POST_INSTEAD = "post-instead"  # an update whose create never reached Aurinko: sent whole
    PATCH = "patch"
    DELETE = "delete"


def plan_send(op: WriteOp, remote_id: str | None) -> SendAction:
    if op == WriteOp.CREATE:
        return SendAction.POST
    if op == WriteOp.UPDATE:
        return SendAction.PATCH if remote_id is not None else SendAction.POST_INSTEAD
    return SendAction.DELETE


def patch_fields(base: Contact, target: Contact, held_before: Contact) -> Contact:
    """The top-level fields a PATCH sends to take Aurinko from ``base`` to ``target``: a
    field Aurinko refused before (``held_before``) is not sent again until the user changes
    it. Empty: the remote already holds the rest, nothing is sent."""
    return {
        key: value
        for key, value in diff(base, target).items()
        if not (key in held_before and target.get(key) == held_before[key])
    }


class Failure(enum.Enum):
    """What a write's failure means for it and for the writes after it."""

    NOT_NOW = "not-now"  # failed without being refused: wait (see plan_retry)
    REFUSED = "refused"  # refused for good: parked, the rest goes on
    ACCOUNT_REFUSED = "account-refused"  # the token or its permission: every write waits
    UNREACHABLE = "unreachable"  # any other failure to talk to Aurinko: every write waits


def plan_failure(exc: AurinkoError | MappingError) -> Failure:
    if isinstance(exc, UnavailableError | RateLimitedError):
        return Failure.NOT_NOW
    if isinstance(exc, BadRequestError | ProtocolError | MappingError):
        return Failure.REFUSED
    if isinstance(exc, UnauthorizedError | ForbiddenError):
        return Failure.ACCOUNT_REFUSED
    return Failure.UNREACHABLE


_TOKEN_REFUSED = "Aurinko refused the account's token ({}); renew the token, then writes resume"
_TOKEN_DEAD = "token dead ({}): run aurinko-bridge account relink {}; the queued writes go up then"
_NO_WRITE_PERMISSION = (
    "the account's token lacks the Contacts.ReadWrite permission (Aurinko answered 403);"
    " link the account again granting write access; writes wait until then"
)


def account_refusal(exc: UnauthorizedError | ForbiddenError, book_path: str) -> str:
    """Why the push stopped, in words that say what the user does about it."""
    if isinstance(exc, ForbiddenError):
        return _NO_WRITE_PERMISSION
    if exc.grant_dead:
        return _TOKEN_DEAD.format(exc, book_path)
    return _TOKEN_REFUSED.format(exc)


# A failure with one of these statuses (or none: no answer at all) says the service or the
# account cannot take writes now, whichever write it is; a 500 may be about this one write.
_SERVICE_DOWN = frozenset({None, 408, 429, 502, 503, 504})


class RetryAction(enum.Enum):
    DEFER = "defer"  # tried again after ``delay``
    DEFER_UNCERTAIN = "defer-uncertain"  # may have applied: looked for upstream before again
    PARK = "park"  # failed on its own too often: parked


@dataclass(frozen=True)
class RetryPlan:
    action: RetryAction
    delay: float = 0.0
    stop: bool = False  # the service is down: every write waits for it, not this one alone


def plan_retry(
    *,
    status: int | None,
    paused: bool,
    may_have_applied: bool,
    attempts: int,
    max_attempts: int,
    retry_after: float | None,
    backoff: float,
) -> RetryPlan:
    """A write Aurinko failed without refusing it. ``attempts`` counts this one; ``paused``:
    the account's circuit breaker is open; ``backoff``: this write's own wait if it waits
    alone and the server gave no hint. A write that may have applied is never parked: it
    may be upstream already."""
    down = status in _SERVICE_DOWN or paused
    if not down and not may_have_applied and attempts >= max_attempts:
        return RetryPlan(RetryAction.PARK)
    delay = retry_after if retry_after is not None else (0.0 if down else backoff)
    action = RetryAction.DEFER_UNCERTAIN if may_have_applied else RetryAction.DEFER
    return RetryPlan(action, delay, stop=down)


class LostSide(enum.Enum):
    LOCAL = "local"  # the card's version (the conflict keeps its text too)
    REMOTE = "remote"  # Aurinko's version, which never was a card here


def conflict_outcome(policy: ConflictPolicy) -> tuple[ConflictOutcome, LostSide]:
    """A field edited on both sides: what the conflict is recorded as, and whose version
    of the contact is kept as the losing one."""
    if policy is ConflictPolicy.REMOTE_WINS:
        return ConflictOutcome.REMOTE_WINS, LostSide.LOCAL
    return ConflictOutcome.LOCAL_WINS, LostSide.REMOTE


def kept_removals(stuck: Collection[str], target: Contact) -> Contact:
    """Removals Aurinko would not make in either form: held as the card has them (the
    user's removal), never as Aurinko put them back."""
    return {key: target.get(key) for key in sorted(stuck)}
