"""Syntax conversion of a card's lines between vCard versions, as data.

The mapping reads and merges cards in 3.0 or 4.0 syntax only. A vCard 2.1 card (or a
version-less one in 2.1's forms) is first converted, line by line, into 3.0 (``as_modern``):
bare parameters get their names (``TEL;HOME`` is ``TEL;TYPE=HOME``), quoted-printable and
``CHARSET`` are decoded, base64 loses its indentation, ``VALUE=URL`` is 3.0's ``uri``, an
embedded ``AGENT`` card becomes its text value, and each value is re-escaped for 3.0 by its
kind (``VALUE_KINDS``). Every other parameter, group, name and value is carried over, so no
TYPE value is lost; the Aurinko contact is then read from the converted card like from any 3.0
card. A 3.0 or 4.0 card that still has lines in 2.1 syntax gets those lines' parameters and
quoted-printable converted the same way; its values are already escaped as its version says.

Between 3.0 and 4.0 the lines the mapping does not own keep their text, except properties one
version lacks (``PROPERTIES_30``: ``KIND`` travels in 3.0 as Apple's
``X-ADDRESSBOOKSERVER-KIND`` and comes back as ``KIND``), and the ALTID alternatives of a 4.0
property (``N;ALTID=1;LANGUAGE=ja`` beside ``N;ALTID=1;LANGUAGE=en``): 3.0 has no ALTID, so the
first of each set stays the property and the others are written ``X-ALTID-N`` (an X- property
every 3.0 client keeps), which comes back as ``N`` on the way to 4.0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import Enum

from .card import Card
from .contentline import (
    ContentLine,
    Param,
    decoded_value,
    escape_text,
    split_escaped,
    unescape_text,
    uses_21_forms,
)


class Kind(Enum):
    """How a 2.1 value is re-escaped for 3.0 (2.1 values are literal apart from ``\\;``)."""

    TEXT = "text"  # one TEXT value: every 3.0 escape
    STRUCTURED = "structured"  # ``;``-separated components, each TEXT
    LIST = "list"  # ``,``-separated items, each TEXT
    URI = "uri"  # a URI: only backslash and line break are escaped
    GEO = "geo"  # 2.1 ``lat,lon`` is 3.0 ``lat;lon``
    OTHER = "other"  # anything else: only a literal backslash is doubled


VALUE_KINDS: dict[str, Kind] = {
    **dict.fromkeys(
        (
            "FN",
            "NOTE",
            "TITLE",
            "ROLE",
            "LABEL",
            "MAILER",
            "EMAIL",
            "TEL",
            "UID",
            "SORT-STRING",
            "X-ABLABEL",
            "X-ABRELATEDNAMES",
            "X-MS-TEL",
            "X-MS-SPOUSE",
            "X-MS-MANAGER",
            "X-MS-ASSISTANT",
            "X-PHONETIC-FIRST-NAME",
            "X-PHONETIC-MIDDLE-NAME",
            "X-PHONETIC-LAST-NAME",
            "X-PHONETIC-ORG",
            "X-EVOLUTION-FILE-AS",
            "X-EVOLUTION-OFFICE",
        ),
        Kind.TEXT,
    ),
    "N": Kind.STRUCTURED,
    "ADR": Kind.STRUCTURED,
    "ORG": Kind.STRUCTURED,
    "NICKNAME": Kind.LIST,
    "CATEGORIES": Kind.LIST,
    "URL": Kind.URI,
    "GEO": Kind.GEO,
}

# 4.0 properties 3.0 does not define -> the X- property 3.0 carries them in. Apple's names
# where Apple has one (sabre/vobject's VCardConverter uses them too), else the common X- name.
# RFC 2739 defines CALURI, CALADRURI and FBURL for 3.0, RFC 4770 IMPP: they stay as they are.
PROPERTIES_30: dict[str, str] = {
    "KIND": "X-ADDRESSBOOKSERVER-KIND",
    "MEMBER": "X-ADDRESSBOOKSERVER-MEMBER",
    "GENDER": "X-GENDER",
    "LANG": "X-LANG",
    "ANNIVERSARY": "X-ANNIVERSARY",
    "CLIENTPIDMAP": "X-CLIENTPIDMAP",
    "XML": "X-XML",
    "RELATED": "X-RELATED",  # a RELATED the mapping does not own: a URI, a card reference
}
PROPERTIES_40 = {x_name: name for name, x_name in PROPERTIES_30.items()}
ALTERNATE_PREFIX = "X-ALTID-"

_BASE64 = frozenset({"B", "BASE64"})
_DROPPED_ENCODINGS = frozenset({"QUOTED-PRINTABLE", "8BIT", "7BIT"})
_LONE_BACKSLASH = re.compile(r"\\(?!;)")


# --- 2.1 -> 3.0 --------------------------------------------------------------------------------


def as_modern(card: Card) -> Card:
    """The card in 3.0 or 4.0 syntax: a 2.1 card converted to 3.0 (``converted_from`` says
    so), a 3.0 / 4.0 card with its 2.1-syntax lines converted; else the card itself."""
    if card.version == "2.1":
        return _from_21(card)
    if not any(uses_21_forms(line) for line in card.lines):
        return card
    lines = tuple(modern_params(line) if uses_21_forms(line) else line for line in card.lines)
    return Card(card.version, lines, card.nested, card.converted_from)


def _from_21(card: Card) -> Card:
    lines: list[ContentLine] = []
    nested: set[int] = set()
    index = 0
    while index < len(card.lines):
        line = card.lines[index]
        if index in card.nested:
            nested.add(len(lines))
            lines.append(line)
            index += 1
        elif line.key == "AGENT" and index + 1 in card.nested and _is_vcard(card.lines[index + 1]):
            block = _block(card, index + 1)
            lines.append(_inline_agent(line, [card.lines[i] for i in block]))
            index = block[-1] + 1
        else:
            lines.append(_line_from_21(line))
            index += 1
    return Card("3.0", tuple(lines), frozenset(nested), converted_from="2.1")


def _line_from_21(line: ContentLine) -> ContentLine:
    if line.key == "VERSION":
        return ContentLine("VERSION", "3.0", group=line.group)
    value = decoded_value(line)
    encodings = {value.upper() for value in line.param("ENCODING")}
    if encodings & _BASE64:  # 2.1 base64 is indented on its lines; 3.0 has no spaces in it
        value = "".join(value.split())
    else:
        value = _escaped_for_30(VALUE_KINDS.get(line.key, Kind.OTHER), value)
    return modern_params(line).changed(value=value)


def _escaped_for_30(kind: Kind, value: str) -> str:
    if kind is Kind.TEXT:
        return escape_text(unescape_text(value, "2.1"))
    if kind is Kind.STRUCTURED:
        return ";".join(escape_text(unescape_text(p, "2.1")) for p in split_escaped(value, ";"))
    if kind is Kind.LIST:
        return ",".join(escape_text(unescape_text(p, "2.1")) for p in split_escaped(value, ","))
    if kind is Kind.URI:
        return unescape_text(value, "2.1").replace("\\", "\\\\").replace("\n", "\\n")
    if kind is Kind.GEO and value.count(",") == 1 and ";" not in value:
        return value.replace(",", ";")
    return _LONE_BACKSLASH.sub(r"\\\\", value).replace("\n", "\\n")


def modern_params(line: ContentLine) -> ContentLine:
    """A line's 2.1 parameters in 3.0's syntax: bare values named, every TYPE value in one
    TYPE parameter, CHARSET and a quoted-printable / 7BIT / 8BIT encoding gone (the value is
    decoded), BASE64 written ``b``, ``VALUE=URL`` written ``uri``. A quoted-printable value
    is decoded (its line breaks escaped)."""
    params: list[Param] = []
    types: list[str] = []
    for param in line.params:
        key = param.effective_key
        if key == "CHARSET":
            continue
        if key == "ENCODING":
            if param.values and param.values[0].upper() in _DROPPED_ENCODINGS:
                continue
            params.append(Param("ENCODING", ("b",)))
        elif key == "TYPE":
            if not types:
                params.append(Param("TYPE", ()))  # where the first TYPE was
            types.extend(_tokens(param.values))
        elif key == "VALUE" and [v.upper() for v in param.values] == ["URL"]:
            params.append(Param("VALUE", ("uri",)))
        else:
            params.append(Param(param.name or key, param.values))
    merged = tuple(
        Param("TYPE", _first_spellings(types)) if p.name == "TYPE" and not p.values else p
        for p in params
    )
    merged = tuple(p for p in merged if not (p.name == "TYPE" and not p.values))
    value = line.value
    if any(v.upper() == "QUOTED-PRINTABLE" for v in line.param("ENCODING")):
        value = decoded_value(line).replace("\n", "\\n")
    return line.changed(params=merged, value=value)


def _tokens(values: Iterable[str]) -> list[str]:
    return [token.strip() for value in values for token in value.split(",") if token.strip()]


def _first_spellings(tokens: list[str]) -> tuple[str, ...]:
    """TYPE values are case-insensitive: each once, in its first spelling."""
    seen: dict[str, str] = {}
    for token in tokens:
        seen.setdefault(token.upper(), token)
    return tuple(seen.values())


def _is_vcard(line: ContentLine) -> bool:
    return line.key == "BEGIN" and line.value.strip().upper() == "VCARD"


def _block(card: Card, start: int) -> list[int]:
    """The indexes of the component that begins at ``start``, its END included."""
    block, depth = [], 0
    for index in range(start, len(card.lines)):
        block.append(index)
        depth += {"BEGIN": 1, "END": -1}.get(card.lines[index].key, 0)
        if depth == 0:
            break
    return block


def _inline_agent(agent: ContentLine, lines: list[ContentLine]) -> ContentLine:
    """3.0 has no embedded cards: the agent's card becomes the AGENT value, as text
    (RFC 2426 3.5.4), itself in 3.0 syntax."""
    inner = Card("2.1", tuple(lines[1:-1]))
    converted = [ContentLine("BEGIN", "VCARD"), *_from_21(inner).lines, lines[-1].changed()]
    text = "\n".join(line.text() for line in converted) + "\n"
    return ContentLine(agent.name, escape_text(text), modern_params(agent).params, agent.group)


# --- 3.0 <-> 4.0, lines the mapping does not own ---------------------------------------------


def alternates(card: Card) -> frozenset[int]:
    """The lines of a 4.0 card that are further ALTID alternatives of a property: every line
    after the first with the same name and ALTID."""
    if card.version != "4.0":
        return frozenset()
    seen: set[tuple[str, str]] = set()
    found: set[int] = set()
    for index, line in enumerate(card.lines):
        altid = line.first_param("ALTID")
        if altid is None or index in card.nested:
            continue
        key = (line.key, altid)
        if key in seen:
            found.add(index)
        seen.add(key)
    return frozenset(found)


def unmapped_in(line: ContentLine, version: str, *, alternate: bool = False) -> ContentLine:
    """A line the mapping does not own, written for a card served in ``version`` (3.0 or 4.0)
    from a card in the other one: only the properties that version lacks change their name."""
    if version == "3.0":
        name = PROPERTIES_30.get(line.key)
        if alternate:
            name = ALTERNATE_PREFIX + line.name
        return line if name is None else line.changed(name=name)
    if line.key.startswith(ALTERNATE_PREFIX):
        return line.changed(name=line.name[len(ALTERNATE_PREFIX) :])
    name = PROPERTIES_40.get(line.key)
    return line if name is None else line.changed(name=name)
