"""The sync's decisions as tables: plain inputs, the expected action, one row per case.

No sandbox and no store: each row runs in microseconds, and a decision that changes fails
here before any end-to-end test needs to find out why."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bridge.aurinko import (
    AurinkoError,
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
)
from bridge.mapping import MappingError
from bridge.store import ContactRow, OutboxOp
from bridge.store.kinds import ConflictOutcome, WriteOp
from bridge.sync import ConflictPolicy
from bridge.sync.decide_pull import (
    DeletionAction,
    RecordAction,
    lost_create,
    plan_deletion,
    plan_record,
)
from bridge.sync.decide_push import (
    Failure,
    LostSide,
    RetryAction,
    RetryPlan,
    SendAction,
    account_refusal,
    conflict_outcome,
    kept_removals,
    patch_fields,
    plan_failure,
    plan_retry,
    plan_send,
)

LOCAL, REMOTE = ConflictPolicy.LOCAL_WINS, ConflictPolicy.REMOTE_WINS
C, U, D = WriteOp.CREATE, WriteOp.UPDATE, WriteOp.DELETE


def row(remote_etag: str | None = "e1") -> ContactRow:
    return ContactRow(1, "ann.vcf", "uid-ann", {}, "x", "", 0.0, "r1", remote_etag)


def op(kind: WriteOp, local: dict[str, object] | None, op_id: int = 1) -> OutboxOp:
    return OutboxOp(op_id, 1, f"c{op_id}.vcf", kind, None, None, None, local, True, 1)


def fact(value: bool) -> Callable[[], bool]:
    return lambda: value


def never() -> bool:
    raise AssertionError("the decision asked the outbox what it does not depend on")


# -- pull: a record of an updated page --------------------------------------------------


@pytest.mark.parametrize(
    ("existing", "etag", "deleting", "pending", "action"),
    [
        (None, "e1", fact(False), never, RecordAction.INSERT),
        (None, "e1", fact(True), never, RecordAction.DELETED_HERE),
        (row("e1"), "e1", never, never, RecordAction.SAME_VERSION),
        (row("e1"), "e2", never, fact(False), RecordAction.UPDATE),
        (row("e1"), "e2", never, fact(True), RecordAction.EDITED_HERE),
        (row(None), "e2", never, fact(False), RecordAction.UPDATE),  # photo not fetched
        (row(None), None, never, never, RecordAction.SAME_VERSION),
    ],
)
def test_plan_record(
    existing: ContactRow | None,
    etag: str | None,
    deleting: Callable[[], bool],
    pending: Callable[[], bool],
    action: RecordAction,
) -> None:
    assert plan_record(existing, etag, deleting, pending) is action


def test_every_record_action_has_a_row() -> None:
    covered = {case.values[-1] for case in _marks(test_plan_record)}
    assert covered == set(RecordAction)


@pytest.mark.parametrize(
    ("record", "ops", "claimed"),
    [
        ({"id": "r9", "name": {"givenName": "Ann"}}, [], None),
        ({"id": "r9", "givenName": "Ann"}, [op(C, {"givenName": "Ann"})], 1),
        ({"id": "r9", "givenName": "Ann"}, [op(C, {"givenName": "Bob"})], None),
        ({"id": "r9", "givenName": "Ann"}, [op(C, None), op(C, {"givenName": "Ann"}, 2)], 2),
        # A page carries no photo bytes: a create that sent one is still the same contact.
        (
            {"id": "r9", "givenName": "Ann", "photo": {"contentType": "image/png"}},
            [op(C, {"givenName": "Ann", "photo": {"contentType": "image/png", "content": "AA"}})],
            1,
        ),
    ],
)
def test_lost_create(record: dict[str, object], ops: list[OutboxOp], claimed: int | None) -> None:
    found = lost_create(record, ops)
    assert (found.id if found else None) == claimed


# -- pull: a deletion upstream ----------------------------------------------------------


@pytest.mark.parametrize(
    ("pending", "policy", "action"),
    [
        ([], REMOTE, DeletionAction.DELETE),
        ([], LOCAL, DeletionAction.DELETE),
        ([D], REMOTE, DeletionAction.DELETE_DROPPING_DELETES),
        ([D, D], LOCAL, DeletionAction.DELETE_DROPPING_DELETES),
        ([U], LOCAL, DeletionAction.RECREATE),
        ([C, D], LOCAL, DeletionAction.RECREATE),
        ([U], REMOTE, DeletionAction.DELETE_KEEPING_EDIT),
        ([U, D], REMOTE, DeletionAction.DELETE_KEEPING_EDIT),
    ],
)
def test_plan_deletion(
    pending: list[WriteOp], policy: ConflictPolicy, action: DeletionAction
) -> None:
    assert plan_deletion(pending, policy) is action


def test_every_deletion_action_has_a_row() -> None:
    assert {case.values[-1] for case in _marks(test_plan_deletion)} == set(DeletionAction)


# -- push: the request an outbox entry becomes ------------------------------------------


@pytest.mark.parametrize(
    ("kind", "remote_id", "action"),
    [
        (C, None, SendAction.POST),
        (U, "r1", SendAction.PATCH),
        (U, None, SendAction.POST_INSTEAD),
        (D, "r1", SendAction.DELETE),
        (D, None, SendAction.DELETE),  # never created upstream: done without a request
    ],
)
def test_plan_send(kind: WriteOp, remote_id: str | None, action: SendAction) -> None:
    assert plan_send(kind, remote_id) is action


def test_every_send_action_has_a_row() -> None:
    assert {case.values[-1] for case in _marks(test_plan_send)} == set(SendAction)


@pytest.mark.parametrize(
    ("base", "target", "held", "sent"),
    [
        ({"notes": "hi"}, {"notes": "hi"}, {}, {}),
        ({"notes": "hi"}, {"notes": "bye"}, {}, {"notes": "bye"}),
        ({"notes": "hi"}, {}, {}, {"notes": None}),  # a removal
        # Refused before with this very value: not sent again...
        ({}, {"nickName": "Al"}, {"nickName": "Al"}, {}),
        # ... until the user changes it.
        ({}, {"nickName": "Ally"}, {"nickName": "Al"}, {"nickName": "Ally"}),
    ],
)
def test_patch_fields(
    base: dict[str, object], target: dict[str, object], held: dict[str, object], sent: object
) -> None:
    assert patch_fields(base, target, held) == sent


# -- push: failures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (UnavailableError("503"), Failure.NOT_NOW),
        (RateLimitedError("429"), Failure.NOT_NOW),
        (BadRequestError("400"), Failure.REFUSED),
        (ProtocolError("junk"), Failure.REFUSED),
        (MappingError("bad card"), Failure.REFUSED),
        (UnauthorizedError("401"), Failure.ACCOUNT_REFUSED),
        (ForbiddenError("403"), Failure.ACCOUNT_REFUSED),
        (NotFoundError("404"), Failure.UNREACHABLE),
        (AurinkoError("connection reset"), Failure.UNREACHABLE),
    ],
)
def test_plan_failure(exc: AurinkoError | MappingError, failure: Failure) -> None:
    assert plan_failure(exc) is failure


def test_every_failure_has_a_row() -> None:
    assert {case.values[-1] for case in _marks(test_plan_failure)} == set(Failure)


def test_account_refusal_says_what_to_do() -> None:
    assert "Contacts.ReadWrite" in account_refusal(ForbiddenError("403"), "alice/work")
    assert "renew the token" in account_refusal(UnauthorizedError("401"), "alice/work")


_DEFER, _UNCERTAIN, _PARK = RetryAction.DEFER, RetryAction.DEFER_UNCERTAIN, RetryAction.PARK


@pytest.mark.parametrize(
    ("status", "paused", "applied", "attempts", "hint", "plan"),
    [
        # The service is down: every write waits, none is parked, no backoff of its own.
        (503, False, False, 9, None, RetryPlan(_DEFER, 0.0, stop=True)),
        (None, False, False, 1, None, RetryPlan(_DEFER, 0.0, stop=True)),
        (429, False, False, 1, 30.0, RetryPlan(_DEFER, 30.0, stop=True)),
        (500, True, False, 9, None, RetryPlan(_DEFER, 0.0, stop=True)),  # breaker open
        # This write alone fails: its own backoff, then parked at the cap.
        (500, False, False, 1, None, RetryPlan(_DEFER, 4.0)),
        (500, False, False, 3, None, RetryPlan(_PARK)),
        # It may have applied: never parked, looked for upstream first.
        (500, False, True, 3, None, RetryPlan(_UNCERTAIN, 4.0)),
        (503, False, True, 1, None, RetryPlan(_UNCERTAIN, 0.0, stop=True)),
    ],
)
def test_plan_retry(
    status: int | None,
    paused: bool,
    applied: bool,
    attempts: int,
    hint: float | None,
    plan: RetryPlan,
) -> None:
    got = plan_retry(
        status=status,
        paused=paused,
        may_have_applied=applied,
        attempts=attempts,
        max_attempts=3,
        retry_after=hint,
        backoff=4.0,
    )
    assert got == plan


def test_every_retry_action_has_a_row() -> None:
    assert {case.values[-1].action for case in _marks(test_plan_retry)} == set(RetryAction)


# -- push: conflicts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "outcome", "lost"),
    [
        (REMOTE, ConflictOutcome.REMOTE_WINS, LostSide.LOCAL),
        (LOCAL, ConflictOutcome.LOCAL_WINS, LostSide.REMOTE),
    ],
)
def test_conflict_outcome(policy: ConflictPolicy, outcome: ConflictOutcome, lost: LostSide) -> None:
    assert conflict_outcome(policy) == (outcome, lost)


def test_kept_removals_hold_the_cards_side() -> None:
    target = {"notes": "mine", "nickName": None}
    assert kept_removals({"nickName", "notes"}, target) == {"nickName": None, "notes": "mine"}


def _marks(test: Callable[..., None]) -> list[pytest.ParameterSet]:
    """The rows of a parametrized test, to check that every member of an enum has one."""
    return [pytest.param(*values) for mark in test.pytestmark for values in mark.args[1]]  # type: ignore[attr-defined]
