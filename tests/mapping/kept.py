"""The checker of issue 24: does a served card keep every property of the card a client sent?

Each top-level property becomes (name, TYPE values upper-cased, value), in both cards; every
entry of the input must be on the output. The comparison forgives only what a version change
must or may do, each for a stated reason:

- the value is compared decoded (quoted-printable and CHARSET undone, backslash escapes read
  as its version reads them: 2.1 only escapes ``;``), so the syntax conversion of a 2.1 line
  counts as keeping it;
- ``VOICE`` on a TEL and ``INTERNET`` on an EMAIL are their properties' defaults (vCard 2.1,
  RFC 2426), present or absent alike; 4.0's ``PREF=n`` is 3.0's ``TYPE=PREF``;
- the 4.0 properties 3.0 lacks travel in 3.0 under the ``X-`` names in ``RENAMED``, and a 4.0
  ``tel:`` URI, ``data:`` photo or ``--MMDD`` birthday is the same value in 3.0's spelling;
- a structured value (N, ADR, ORG) is its components without trailing empty ones, a list
  value (NICKNAME, CATEGORIES) its items: the mapping may pad the one and join the other;
- a line in a group with an Apple ``X-ABLabel`` is compared by name and value: the label is
  its type, and MAPPING.md's tables translate it between versions (``_$!<Spouse>!$_`` is 4.0's
  ``RELATED;TYPE=spouse``); the label lines themselves are not entries;
- base64 is compared without the white space 2.1 indents it with; a 2.1 ``AGENT``'s embedded
  card becomes its value (RFC 2426 3.5.4), so only the AGENT line itself is compared;
- ``VERSION``, ``PRODID`` and ``REV`` are the server's to write.
"""

from __future__ import annotations

import re

from bridge.mapping.card import decode_input, read_card
from bridge.mapping.contentline import ContentLine, decoded_value, split_escaped, unescape_text
from bridge.mapping.values import number_from_uri

# (name, TYPE values, value); TYPE values ``None`` for a line an Apple label types.
Entry = tuple[str, frozenset[str] | None, str]

SKIPPED = frozenset({"VERSION", "PRODID", "REV", "BEGIN", "END"})
DEFAULT_TYPES = {"TEL": frozenset({"VOICE"}), "EMAIL": frozenset({"INTERNET"})}
# One name per property whichever version spells it (3.0 name on the left).
RENAMED = {
    "X-ADDRESSBOOKSERVER-KIND": "KIND",
    "X-ADDRESSBOOKSERVER-MEMBER": "MEMBER",
    "X-GENDER": "GENDER",
    "X-LANG": "LANG",
    "X-ANNIVERSARY": "ANNIVERSARY",
    "X-ABRELATEDNAMES": "RELATED",
    "X-RELATED": "RELATED",
    "X-CLIENTPIDMAP": "CLIENTPIDMAP",
    "X-XML": "XML",
}
_MEDIA = frozenset({"PHOTO", "LOGO", "SOUND", "KEY"})  # TYPE there is a media type
_ALTERNATE = re.compile(r"^X-ALTID-")
_STRUCTURED = frozenset({"N", "ADR", "ORG"})
_LISTS = frozenset({"NICKNAME", "CATEGORIES"})
_LABEL = "X-ABLABEL"


def entries(text: str) -> list[Entry]:
    """(name, TYPE values, value) of each top-level property of a card, in card order."""
    card = read_card(decode_input(text))
    top = [line for index, line in enumerate(card.lines) if index not in card.nested]
    labelled = {line.group_key for line in top if line.key == _LABEL and line.group_key}
    found: list[Entry] = []
    for line in top:
        if line.key in SKIPPED or line.key == _LABEL:
            continue
        name, types, value = _entry(line, card.version)
        found.append((name, None if line.group_key in labelled else types, value))
    return found


def _entry(line: ContentLine, version: str) -> tuple[str, frozenset[str], str]:
    name = _ALTERNATE.sub("", line.key)
    name = RENAMED.get(name, name)
    types = {token.upper() for token in line.type_tokens()}
    if line.param("PREF"):
        types.add("PREF")
    types -= DEFAULT_TYPES.get(name, frozenset())
    if name in _MEDIA:
        types = set()
    return name, frozenset(types), _value(line, name, version)


def _value(line: ContentLine, name: str, version: str) -> str:
    raw = decoded_value(line)
    if name == "AGENT":
        return ""
    if {e.upper() for e in line.param("ENCODING")} & {"B", "BASE64"}:
        return "".join(raw.split())
    if name in ("TEL", "X-MS-TEL") and raw[:4].lower() == "tel:":
        return number_from_uri(raw)
    if name in _MEDIA and raw[:5].lower() == "data:":
        return raw.split(",", 1)[-1]
    if name in _MEDIA:
        return "".join(raw.split())
    if name in ("BDAY", "ANNIVERSARY"):
        return re.sub(r"[^0-9]", "", raw)[-4:]  # month and day: a 3.0 year 1604 means none
    syntax = version  # 2.1 values are literal apart from \; (MAPPING.md)
    if name in _STRUCTURED:
        parts = [unescape_text(part, syntax) for part in split_escaped(raw, ";")]
        while parts and not parts[-1]:
            parts.pop()
        return ";".join(parts)
    text = unescape_text(raw, syntax).replace("\r\n", "\n").replace("\r", "\n")
    if name in _LISTS:
        return ",".join(item.strip() for item in text.split(","))
    return text


def lost(sent: str, served: str) -> list[Entry]:
    """The entries of ``sent`` that ``served`` does not have (empty: nothing dropped)."""
    left = entries(served)
    missing: list[Entry] = []
    for name, types, value in entries(sent):
        match = next((e for e in left if _same(e, (name, types, value))), None)
        if match is None:
            missing.append((name, types, value))
        else:
            left.remove(match)
    return missing


def _same(served: Entry, sent: Entry) -> bool:
    if served[0] != sent[0] or served[2] != sent[2]:
        return False
    return served[1] is None or sent[1] is None or served[1] == sent[1]
