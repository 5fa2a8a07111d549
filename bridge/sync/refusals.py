"""Which field of a contact a 400 refuses, in whichever words the refusal comes.

Aurinko relays the provider's own error in the envelope's ``originalError``:

- Microsoft Graph (learn.microsoft.com/graph/errors): ``{"error": {"code", "message"}}``; the
  message can name only Graph's contact properties (``emailAddresses``, ``businessPhones``,
  ``homeAddress``, ``birthday``, ...), which map back to Aurinko's fields below.
- Google (the ``google.rpc.BadRequest`` error detail): ``fieldViolations[].field`` is a path
  in the People API's ``Person`` (``emailAddresses[1].value``, ``birthdays[0].date``).
- The sandbox's generic words, and any service that names the field itself:
  ``field 'x'`` or ``property 'x'``.

A refusal no reading attributes to a field of the write is the whole write's: it is parked
with the provider's message (``AurinkoError`` carries it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..aurinko import BadRequestError
from .fields import Contact

_NAMED_FIELD = re.compile(r"(?:field|property)\s+'([A-Za-z]+)")
_WORD = re.compile(r"[A-Za-z]+")

# Graph ``contact`` properties -> Aurinko fields (the ones Aurinko's contact maps onto).
GRAPH_PROPERTIES: Mapping[str, str] = {
    "emailAddresses": "emailAddresses",
    "businessPhones": "phoneNumbers",
    "homePhones": "phoneNumbers",
    "mobilePhone": "phoneNumbers",
    "homeAddress": "addresses",
    "businessAddress": "addresses",
    "otherAddress": "addresses",
    "manager": "relations",
    "assistantName": "relations",
    "spouseName": "relations",
    "birthday": "birthday",
    "businessHomePage": "urls",
    "nickName": "nickName",
    "personalNotes": "notes",
    "categories": "keywords",
    "fileAs": "fileAs",
    "companyName": "company",
    "jobTitle": "company",
    "department": "company",
    "officeLocation": "company",
}
# People API ``Person`` fields -> Aurinko fields.
PEOPLE_FIELDS: Mapping[str, str] = {
    "emailAddresses": "emailAddresses",
    "phoneNumbers": "phoneNumbers",
    "addresses": "addresses",
    "relations": "relations",
    "birthdays": "birthday",
    "urls": "urls",
    "nicknames": "nickName",
    "biographies": "notes",
    "organizations": "company",
    "fileAses": "fileAs",
    "memberships": "keywords",
    "photos": "photo",
}


def refused_field(exc: BadRequestError, payload: Contact) -> str | None:
    """The one field of ``payload`` the refusal names (not ``name``, which a contact needs,
    nor a field being removed), or None when it names none of them."""
    for field in _candidates(exc):
        if field in payload and field != "name" and payload[field] is not None:
            return field
    return None


def _candidates(exc: BadRequestError) -> Iterator[str]:
    named = _NAMED_FIELD.search(str(exc))
    if named:
        yield named.group(1)
    error = exc.original.get("error") if isinstance(exc.original, dict) else None
    if not isinstance(error, dict):
        return
    for path in _violation_paths(error):
        head = path.removeprefix("person.").split(".", 1)[0].split("[", 1)[0]
        if head in PEOPLE_FIELDS:
            yield PEOPLE_FIELDS[head]
    message = error.get("message")
    if isinstance(message, str):
        for word in _WORD.findall(message):
            # Graph names a property in its own camelCase, or in Exchange's PascalCase
            # ("The multi value property EmailAddresses has 4 entries, ...").
            prop = word[:1].lower() + word[1:]
            if prop in GRAPH_PROPERTIES:
                yield GRAPH_PROPERTIES[prop]


def _violation_paths(error: dict[str, Any]) -> Iterator[str]:
    details = error.get("details")
    for detail in details if isinstance(details, list) else ():
        violations = detail.get("fieldViolations") if isinstance(detail, dict) else None
        for violation in violations if isinstance(violations, list) else ():
            field = violation.get("field") if isinstance(violation, dict) else None
            if isinstance(field, str):
                yield field
