"""400 answers in the words of the provider behind Aurinko, as Aurinko relays them: the
``ApiRequestFailed`` envelope with the provider's own error in ``originalError``.

- ``graph`` (Microsoft Graph, learn.microsoft.com/graph/errors): ``{"error": {"code",
  "message", "innerError": {"date", "request-id"}}}``. The message names Graph's contact
  property (``emailAddresses``, ``businessPhones``, ``homeAddress``, ``birthday``, ...), not
  Aurinko's field. Too many values of a multi-value property are in Graph's own words, as
  quoted from real 400s in microsoftgraph/microsoft-graph-docs issue #15276 ("The multi
  value property EmailAddresses has 4 entries, that exceeds the max allowed value of 3");
  the other messages and the ``ErrorInvalidArgument`` code are our guess.
- ``google`` (Google's error model, ``google.rpc.BadRequest``): ``{"error": {"code": 400,
  "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT",
  "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations":
  [{"field": "birthdays[0].date", "description"}]}]}}``: the field is a path in the People
  API's ``Person`` (JSON names).
- ``aurinko`` (``generic``): the sandbox's own ``Invalid field 'path': problem``.

What Aurinko itself puts in ``code`` and ``message`` around a provider's error is not
documented: ``badRequest`` and the provider's message are our choice.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Literal

from bridge.sandbox.errors import ApiError, bad_request, invalid_field

RefusalStyle = Literal["aurinko", "graph", "google"]

# Graph's contact properties behind an Aurinko field (and an item type, for the slots).
_GRAPH_PROPERTY = {
    "emailAddresses": "emailAddresses",
    "phoneNumbers": "businessPhones",
    "phoneNumbers.work": "businessPhones",
    "phoneNumbers.home": "homePhones",
    "phoneNumbers.mobile": "mobilePhone",
    "addresses": "businessAddress",
    "addresses.home": "homeAddress",
    "addresses.work": "businessAddress",
    "addresses.other": "otherAddress",
    "relations": "manager",
    "relations.manager": "manager",
    "relations.assistant": "assistantName",
    "relations.spouse": "spouseName",
    "birthday": "birthday",
}
# People API ``Person`` fields behind an Aurinko field.
_PEOPLE_FIELD = {
    "emailAddresses": "emailAddresses",
    "phoneNumbers": "phoneNumbers",
    "addresses": "addresses",
    "relations": "relations",
    "urls": "urls",
    "birthday": "birthdays[0].date",
}
# Graph's collection properties of a contact (the single-valued ones have other words).
_GRAPH_MULTI_VALUE = frozenset({"emailAddresses", "businessPhones", "homePhones"})
_INDEX = re.compile(r"\[(\d+)\]")


def refusal(
    style: RefusalStyle,
    path: str,
    problem: str,
    kind: str | None = None,
    entries: tuple[int, int] | None = None,
) -> ApiError:
    """The 400 for Aurinko's ``path`` (``phoneNumbers[2].type``) that does not fit;
    ``entries`` (how many were sent, how many the provider keeps) when there are too many
    values of a multi-value property."""
    if style == "aurinko":
        return invalid_field(path, problem)
    field = path.split("[", 1)[0].split(".", 1)[0]
    if style == "graph":
        prop = _GRAPH_PROPERTY.get(f"{field}.{kind}") or _GRAPH_PROPERTY.get(field, field)
        message = f"{prop}: {problem}"
        if entries is not None and prop in _GRAPH_MULTI_VALUE:
            # Graph's words, its property in Exchange's PascalCase (issue #15276 above).
            message = (
                f"The multi value property {prop[:1].upper()}{prop[1:]} has {entries[0]}"
                f" entries, that exceeds the max allowed value of {entries[1]}"
            )
        moment = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "")
        inner = {"date": moment, "request-id": str(uuid.uuid4())}
        graph = {"error": {"code": "ErrorInvalidArgument", "message": message, "innerError": inner}}
        return ApiError(400, "badRequest", message, original=graph)
    people = _PEOPLE_FIELD.get(field, field)
    found = _INDEX.search(path)
    if found and "[" not in people:
        people += f"[{found.group(1)}]"
    violation = {"field": people, "description": problem}
    google = {
        "error": {
            "code": 400,
            "message": "Request contains an invalid argument.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [violation],
                }
            ],
        }
    }
    error = bad_request("Request contains an invalid argument.")
    error.original = google
    return error
