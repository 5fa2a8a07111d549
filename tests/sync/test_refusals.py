"""Reading which field a 400 refuses, in Graph's, Google's and plain words (issue 22,
point 4); a refusal naming no field of the write is the whole write's."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bridge.aurinko import BadRequestError
from bridge.aurinko.responses import error_from_response
from bridge.sync.refusals import refused_field

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
