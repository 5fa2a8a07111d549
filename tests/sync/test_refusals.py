"""Reading which field a 400 refuses, in Graph's, Google's and plain words (issue 22,
point 4); a refusal naming no field of the write is the whole write's."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bridge.aurinko import BadRequestError
from bridge.aurinko.responses import error_from_response
from bridge.status import TokenCheck, TokenState, book_status
from bridge.sync.refusals import refused_field
from bridge.sync.reports import words
from tests.conftest import TOKEN
from tests.sync.conftest import Env, vcard

PAYLOAD = {"emailAddresses": [{"address": "a@example.com"}], "birthday": "x", "notes": "n"}


def _relayed(original: Any, message: str = "refused") -> BadRequestError:
    """The error the client makes of Aurinko's 400 relaying ``original``."""
    body = {"code": "badRequest", "message": message, "requestId": "r-1"}
    if original is not None:
        body["originalError"] = original
    error = error_from_response("PATCH contacts/c1", httpx.Response(400, json=body))
    assert isinstance(error, BadRequestError) and error.original == original
    return error


def _graph(message: str) -> dict[str, Any]:
    return {"error": {"code": "ErrorInvalidArgument", "message": message, "innerError": {}}}


def _google(*fields: str) -> dict[str, Any]:
    violations = [{"field": field, "description": "bad"} for field in fields]
    detail = {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations}
    return {"error": {"code": 400, "status": "INVALID_ARGUMENT", "details": [detail]}}


@pytest.mark.parametrize(
    ("error", "field"),
    [
        (_relayed(None, "Invalid field 'birthday': no"), "birthday"),
        (_relayed(_graph("emailAddresses: at most 3")), "emailAddresses"),
        # Graph's own words, its property in PascalCase (microsoft-graph-docs issue #15276).
        (
            _relayed(
                _graph(
                    "The multi value property EmailAddresses has 4 entries, that exceeds the"
                    " max allowed value of 3"
                )
            ),
            "emailAddresses",
        ),
        (_relayed(_graph("The birthday is out of range")), "birthday"),
        (_relayed(_google("birthdays[0].date")), "birthday"),
        (_relayed(_google("person.emailAddresses[3].value")), "emailAddresses"),
        (_relayed(_google("biographies[0].value")), "notes"),
        (_relayed(_google("nicknames[0].value")), None),  # not sent by this write
        # A contact needs its name: a refused name is the whole write's.
        (_relayed(_google("names[0].familyName")), None),
        # Named, but not a field this write sends: the whole write's.
        (_relayed(_graph("homePhones: too many")), None),
        (_relayed(_google("phoneNumbers[0].type")), None),
        (_relayed(_graph("The mailbox is full.")), None),
        (_relayed({"error": "not an object"}), None),
        (_relayed(["odd"]), None),
    ],
)
def test_the_refused_field_is_read_from_each_providers_words(
    error: BadRequestError, field: str | None
) -> None:
    assert refused_field(error, dict(PAYLOAD)) == field


def test_the_providers_words_reach_the_message_a_parked_write_keeps() -> None:
    error = _relayed(_graph("The mailbox is full."), "The mailbox is full.")
    assert "The mailbox is full." in str(error) and "HTTP 400" in str(error)


def unfolded(text: str) -> str:
    return text.replace("\r\n ", "")


@pytest.mark.parametrize("profile", ["google"])
def test_a_refusal_naming_no_field_it_can_hold_parks_that_write_alone(env: Env) -> None:
    """End to end with the sandbox: Google refuses a name longer than it keeps
    (``names[0].familyName``); a contact needs its name, so no field can be held and the
    write is parked at once with Google's message. The card stays as the user wrote it and
    the book's other writes, before and after, go through."""
    engine, book, sandbox_app = env.engine, env.book, env.sandbox
    long_name = "L" * 1100
    card = vcard("uid-long", "Ann", f"N:{long_name};Ann;;;", "NOTE:kept")
    engine.put(book, "long.vcf", card, push=False)
    engine.put(book, "bo.vcf", vcard("uid-bo", "Bo", "N:Bo;;;;"), push=False)
    report = engine.sync(book)
    assert report.error is None and any("long.vcf" in line for line in map(words, report.skipped))
    (parked,) = engine.outbox.failed(book.id)
    assert parked.href == "long.vcf" and "HTTP 400" in (parked.last_error or "")
    assert "Request contains an invalid argument." in (parked.last_error or "")
    assert [c["name"]["familyName"] for c in sandbox_app.dump(TOKEN)] == ["Bo"]
    assert unfolded(env.card("long.vcf")) == card  # as sent (the store folds long lines)
    assert engine.store.held(book.id, "long.vcf") == {}
    (shown,) = book_status(engine, book, None, TokenCheck(TokenState.OK)).parked
    assert shown.href == "long.vcf" and "Request contains an invalid argument." in shown.reason

    # Nothing else of the book waits behind it: a later edit of another card goes up.
    engine.put(book, "bo.vcf", vcard("uid-bo", "Bo", "N:Bo;;;;", "NOTE:later"), push=False)
    assert engine.sync(book).error is None
    assert [c.get("notes") for c in sandbox_app.dump(TOKEN)] == ["later"]
    assert engine.outbox.count(book.id) == 0 and len(engine.outbox.failed(book.id)) == 1
    assert unfolded(env.card("long.vcf")) == card
