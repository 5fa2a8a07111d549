"""Contacts as a person reads them: the labels, values and choices of the status page.

The labels are a table (``FIELDS``): where a value lives in an Aurinko contact, what a
contact editor calls it, and how its value reads. Nothing here escapes HTML (render does).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ..mapping import MappingError, normalize
from ..store import Conflict, OutboxOp
from ..store.kinds import ConflictOutcome, WriteOp
from ..sync.conflicts import taking, value_at
from ..sync.fields import READ_ONLY, Contact

Side = Literal["mine", "theirs"]
SIDES: tuple[Side, Side] = ("mine", "theirs")


def _words(camel: str) -> str:
    """``workMobile`` -> ``work mobile``: the API's type names as words."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", camel).lower()


def _text(value: Any) -> list[str]:
    return [str(value)] if value else []


def _typed(text: str, item: dict[str, Any]) -> str:
    kind = item.get("type")
    return f"{text} ({_words(str(kind))})" if kind else text


def _items(key: str) -> Callable[[Any], list[str]]:
    def show(value: Any) -> list[str]:
        items = value if isinstance(value, list) else []
        return [_typed(str(i[key]), i) for i in items if isinstance(i, dict) and i.get(key)]

    return show


_ADDRESS_PARTS = ("street", "streetLine2", "poBox", "postalCode", "city", "state", "country")


def _addresses(value: Any) -> list[str]:
    items = value if isinstance(value, list) else []
    lines = []
    for item in (i for i in items if isinstance(i, dict)):
        parts = [str(item[k]).replace("\n", ", ") for k in _ADDRESS_PARTS if item.get(k)]
        if parts:
            lines.append(_typed(", ".join(parts), item))
    return lines


def _keywords(value: Any) -> list[str]:
    return [", ".join(str(v) for v in value)] if isinstance(value, list) and value else []


def _photo(value: Any) -> list[str]:
    return ["a photo"] if value else []


@dataclass(frozen=True)
class Field:
    path: str  # in an Aurinko contact; dotted: objects are merged key by key, lists whole
    label: str
    show: Callable[[Any], list[str]] = _text


FIELDS = (
    Field("name.displayName", "Name"),
    Field("name.prefix", "Title"),
    Field("name.givenName", "First name"),
    Field("name.middleName", "Middle name"),
    Field("name.familyName", "Last name"),
    Field("name.suffix", "Suffix"),
    Field("name.yomiGivenName", "First name (phonetic)"),
    Field("name.yomiFamilyName", "Last name (phonetic)"),
    Field("nickName", "Nickname"),
    Field("emailAddresses", "Email", _items("address")),
    Field("phoneNumbers", "Phone", _items("number")),
    Field("addresses", "Address", _addresses),
    Field("birthday", "Birthday"),
    Field("company.name", "Organisation"),
    Field("company.jobTitle", "Job title"),
    Field("company.department", "Department"),
    Field("company.officeLocation", "Office"),
    Field("company.yomiCompanyName", "Organisation (phonetic)"),
    Field("urls", "Website", _items("href")),
    Field("relations", "Related people", _items("name")),
    Field("notes", "Note"),
    Field("keywords", "Groups", _keywords),
    Field("fileAs", "File as"),
    Field("photo", "Photo", _photo),
)
_BY_PATH = {f.path: f for f in FIELDS}

PROVIDERS = {
    "Google": "Google",
    "Office365": "Microsoft 365",
    "EWS": "Exchange",
    "iCloud": "iCloud",
}


def provider_words(service_type: str | None) -> str:
    """The provider as its users call it; "your online account" when unknown."""
    if not service_type:
        return "your online account"
    return PROVIDERS.get(service_type, service_type)


def label_of(path: str) -> str:
    """What a user calls the field at ``path`` (``name.givenName``, or a top-level
    ``company``: the first of its parts, Organisation)."""
    if path in _BY_PATH:
        return _BY_PATH[path].label
    for field in FIELDS:
        if field.path.startswith(path + ".") or path.startswith(field.path + "."):
            return field.label
    return _words(path).capitalize()


def labels(paths: Iterable[str]) -> list[str]:
    """The labels of ``paths``, each once, in the table's order."""
    found = {label_of(p) for p in paths}
    ordered = [f.label for f in FIELDS if f.label in found]
    return list(dict.fromkeys(ordered + sorted(found - set(ordered))))


def person(contact: Contact | None) -> str:
    """The contact's name as a heading: its display name, else its name parts, company
    or first email address."""
    if not contact:
        return "A contact without a name"
    name = _object(contact, "name")
    parts = [str(name[k]) for k in ("givenName", "familyName") if name.get(k)]
    company = _object(contact, "company")
    emails = _items("address")(contact.get("emailAddresses"))
    for candidate in (name.get("displayName"), " ".join(parts), company.get("name")):
        if candidate:
            return str(candidate)
    return emails[0].split(" (")[0] if emails else "A contact without a name"


def _object(contact: Contact, key: str) -> dict[str, Any]:
    value = contact.get(key)
    return value if isinstance(value, dict) else {}


def _normal(contact: Contact | None) -> Contact:
    if not contact:
        return {}
    try:
        return normalize(contact, derive=False)
    except MappingError:  # shown as it is, then
        return dict(contact)


def _overlap(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


# -- conflicts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    kept: Side  # the side the book holds for now
    what: str  # {provider}: the account's provider in words
    mine: str
    theirs: str


_EDITED = "Edited on your devices and in {provider} at the same time."
_MINE, _THEIRS = "Mine (your devices)", "Theirs ({provider})"
# Every ConflictOutcome has its words (tests/statuspage checks it); a row written by a
# newer version with an outcome this one does not know reads as _UNKNOWN.
OUTCOMES: dict[str, Outcome] = {
    ConflictOutcome.REMOTE_WINS: Outcome(
        "theirs", _EDITED + " For now it has {provider}'s version.", _MINE, _THEIRS
    ),
    ConflictOutcome.LOCAL_WINS: Outcome(
        "mine", _EDITED + " For now it has your version.", _MINE, _THEIRS
    ),
    ConflictOutcome.DELETED_REMOTELY: Outcome(
        "theirs",
        "Deleted in {provider} while it was edited on your devices. For now it is deleted.",
        _MINE,
        _THEIRS,
    ),
    ConflictOutcome.FOLDER_EDIT_WON: Outcome(
        "mine",
        "Edited in the folder and in the address book. For now it has the folder's version.",
        "Mine (the folder)",
        "Theirs (the address book)",
    ),
    ConflictOutcome.FOLDER_EDIT_OVERWRITTEN: Outcome(
        "theirs",
        "Edited in the folder and in the address book. For now it has the address book's version.",
        "Mine (the folder)",
        "Theirs (the address book)",
    ),
}
_UNKNOWN = Outcome("theirs", "Changed in two places at once.", _MINE, _THEIRS)


@dataclass(frozen=True)
class Row:
    path: str
    label: str
    mine: list[str]
    theirs: list[str]
    differs: bool
    choice: bool  # the user picks a side for this one


@dataclass(frozen=True)
class ConflictView:
    id: int
    name: str
    what: str
    mine: str  # the two columns' headings
    theirs: str
    kept: Side
    rows: list[Row]
    whole: bool  # one side is a deletion: the choice is the whole card
    paths: list[str]  # the dotted paths the conflict is about
    gone: Side | None = None  # the side that is a deletion

    def taking(self, chosen: dict[str, Side]) -> list[str]:
        """The dotted paths to take from the losing version for the sides ``chosen`` per
        row (rows not named keep the side the book holds)."""
        take: list[str] = []
        for row in self.rows:
            if row.choice and chosen.get(row.path, self.kept) != self.kept:
                for path in self.paths:
                    if _overlap(row.path, path):
                        take.append(max(row.path, path, key=len))
        return list(dict.fromkeys(take))


def conflict_view(
    conflict: Conflict, current: Contact | None, other: Contact | None, provider: str
) -> ConflictView:
    """Both sides of ``conflict`` field by field. ``current``: what the book serves (None:
    deleted); ``other``: the losing version (None: a deletion). Each column shows the card
    as it would be with that side chosen on every conflicting field: changes outside the
    conflict are in both."""
    outcome = OUTCOMES.get(conflict.outcome, _UNKNOWN)
    lost: Side = "mine" if outcome.kept == "theirs" else "theirs"
    what = outcome.what.format(provider=provider)
    mine, theirs = (title.format(provider=provider) for title in (outcome.mine, outcome.theirs))
    if current is None or other is None:
        sides = {outcome.kept: current, lost: other}
        gone: Side | None = outcome.kept if current is None else lost
        rows = _rows(sides["mine"], sides["theirs"], set())
        name = person(current or other)
        return ConflictView(
            conflict.id,
            name,
            what,
            outcome.mine,
            outcome.theirs,
            outcome.kept,
            rows,
            True,
            [],
            gone,
        )
    paths = list(conflict.fields) or [
        f.path
        for f in FIELDS
        if value_at(_normal(current), f.path) != value_at(_normal(other), f.path)
    ]
    chosen = {outcome.kept: current, lost: taking(current, other, paths)}
    rows = _rows(chosen["mine"], chosen["theirs"], set(paths))
    return ConflictView(
        conflict.id, person(current), what, mine, theirs, outcome.kept, rows, False, paths
    )


def _rows(mine: Contact | None, theirs: Contact | None, paths: set[str]) -> list[Row]:
    left, right = _normal(mine), _normal(theirs)
    rows = []
    for field in FIELDS:
        shown_mine = field.show(value_at(left, field.path))
        shown_theirs = field.show(value_at(right, field.path))
        if not (shown_mine or shown_theirs):
            continue
        differs = shown_mine != shown_theirs
        choice = differs and any(_overlap(field.path, p) for p in paths)
        rows.append(Row(field.path, field.label, shown_mine, shown_theirs, differs, choice))
    return rows


# -- refused writes and fields --------------------------------------------------------


def refused_write(op: OutboxOp, current: Contact | None) -> str:
    """What a parked write was about, in words: ``Changing Email and Phone of Ann``."""
    who = person(current or op.local_json)
    if op.op == WriteOp.CREATE:
        return f"Adding {who}"
    if op.op == WriteOp.DELETE:
        return f"Removing {who}"
    old, new = _normal(op.base_json), _normal(op.local_json)
    changed = [k for k in set(old) | set(new) if k not in READ_ONLY and old.get(k) != new.get(k)]
    fields = labels(changed)
    return f"Changing {_and(fields)} of {who}" if fields else f"Changing {who}"


_CALL = re.compile(r"^(GET|POST|PATCH|PUT|DELETE) [^:]*: ")
_REQUEST = re.compile(r"\s*\[request [^\]]*\]$")


def refusal(reason: str) -> str:
    """The provider's answer without the API call and request id it was logged with."""
    return _REQUEST.sub("", _CALL.sub("", reason)) or reason


def held_removals(held: Contact) -> list[str]:
    """Fields removed on the card that Aurinko did not remove (held as None): their labels."""
    return [label_of(key) for key in sorted(held, key=_order) if held[key] is None]


def held_fields(held: Contact) -> list[tuple[str, str]]:
    """Fields Aurinko refused and the card keeps: (label, value in words)."""
    out = []
    values = {key: value for key, value in held.items() if value is not None}
    for key, value in sorted(values.items(), key=lambda kv: _order(kv[0])):
        field = _BY_PATH.get(key)
        if field is not None:
            shown = field.show(value)
        elif isinstance(value, dict):  # name or company: their parts, in the table's order
            shown = [v for f in FIELDS if f.path.startswith(key + ".") for v in _part(f, value)]
        else:
            shown = _text(value)
        out.append((label_of(key), "; ".join(shown)))
    return out


def _part(field: Field, value: dict[str, Any]) -> list[str]:
    return field.show(value.get(field.path.split(".", 1)[1]))


def _order(path: str) -> int:
    for index, field in enumerate(FIELDS):
        if _overlap(field.path, path):
            return index
    return len(FIELDS)


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
