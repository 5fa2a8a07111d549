"""``account remove`` prints each step ``bridge.accounts`` reports as the sentence it
printed when the steps were returned as text: every step has its words, and these are they."""

from __future__ import annotations

import pytest

from bridge.accounts import Removed, Step
from bridge.commands.account import _REMOVED, _removed

LINES = [
    (
        Removed(Step.TABLE_REMOVED, "alice/work", "b.toml"),
        "Removed [[accounts]] alice/work from b.toml.",
    ),
    (
        Removed(Step.STORE_UNREADABLE, why="locked"),
        "Could not read the store to find its webhook subscription: locked.",
    ),
    (
        Removed(Step.COPY_DELETED, "alice/work"),
        "Deleted its local copy (the book alice/work) from the store.",
    ),
    (
        Removed(Step.HOOK_TOKEN_UNREADABLE, why="no token"),
        "Could not delete its webhook subscription at Aurinko: no token.",
    ),
    (
        Removed(Step.HOOK_KEPT, "s1", why="503"),
        "Could not delete its webhook subscription s1 at Aurinko (503); delete it there, or it"
        " lapses when notifications keep failing.",
    ),
    (Removed(Step.HOOK_DELETED, "s1"), "Deleted its webhook subscription s1 at Aurinko."),
    (
        Removed(Step.REVOKE_REFUSED, why="401"),
        "Aurinko refused its token (401): the Aurinko account is deleted already, or can only"
        " be deleted in the Aurinko portal now.",
    ),
    (
        Removed(Step.REVOKE_FAILED, where="https://a/v1", why="503"),
        "Could not delete the account at Aurinko (503); delete it in the Aurinko portal (or"
        " DELETE https://a/v1/account with its token)",
    ),
    (
        Removed(Step.REVOKED),
        "Deleted the account at Aurinko (DELETE /v1/account), and its provider grant.",
    ),
    (
        Removed(Step.TOKEN_KEPT_TO_REVOKE, "w.token"),
        "Kept its token file w.token, to revoke the account with.",
    ),
    (Removed(Step.TOKEN_DELETED, "w.token"), "Deleted its token file tokens/w.token."),
    (
        Removed(Step.TOKEN_NOT_DELETED, "/t/w.token", why="Permission denied"),
        "Could not delete its token file /t/w.token: Permission denied.",
    ),
    (
        Removed(Step.TOKEN_KEPT_NOT_OURS, "w.token"),
        "Kept its token file w.token (not written by account add).",
    ),
    (
        Removed(Step.COPY_STAYS, where="var"),
        "Its local copy stays in var (account remove --purge deletes it).",
    ),
    (Removed(Step.NO_COPY), "It had no local copy in the store."),
    (Removed(Step.CONFLICTS_DELETED, where="var/c"), "Deleted its kept conflicts (var/c)."),
    (
        Removed(Step.LEFTOVER_PURGED, "alice/work"),
        "Deleted the local copy of alice/work (no longer configured) and its conflicts.",
    ),
]


def test_every_step_has_its_words() -> None:
    assert set(_REMOVED) == set(Step) == {done.step for done, _ in LINES}


@pytest.mark.parametrize(("done", "line"), LINES)
def test_a_step_reads_as_its_old_line(done: Removed, line: str) -> None:
    assert _removed(done) == line
