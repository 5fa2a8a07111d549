"""One vCard as a sequence of content lines: input decoding, limits, BEGIN/END/VERSION checks.

Everything that can make an input "not a usable vCard" is detected here and reported as one
``MappingError`` with a message a user can act on.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .contentline import ContentLine, logical_lines, parse_line, uses_21_forms
from .errors import MappingError
from .limits import DEFAULT_LIMITS, Limits

VERSIONS = ("2.1", "3.0", "4.0")
_BINARY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CHARSET_PARAM = re.compile(rb";CHARSET=([A-Za-z0-9_.-]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Card:
    """The properties between ``BEGIN:VCARD`` and its ``END:VCARD``, in order.

    ``nested`` holds the indexes of the lines of a component inside the card (the agent's card
    after a vCard 2.1 ``AGENT:``, any other closed ``BEGIN``/``END`` pair), its ``BEGIN`` and
    ``END`` included: they belong to that component and are never mapped.
    ``converted_from``: the version the client wrote when the lines were converted from it
    (a 2.1 card read in 3.0 syntax, ``convert.as_modern``), else ``None``.
    """

    version: str
    lines: tuple[ContentLine, ...]
    nested: frozenset[int] = frozenset()
    converted_from: str | None = None

    def first(self, name: str) -> tuple[int, ContentLine] | None:
        wanted = name.upper()
        for index, line in enumerate(self.lines):
            if line.key == wanted and index not in self.nested:
                return index, line
        return None


def decode_input(data: str | bytes, limits: Limits = DEFAULT_LIMITS) -> str:
    """Card text from what a client sent: UTF-8 (with or without BOM), UTF-16 with BOM, or the
    single legacy charset a vCard 2.1 card declares in its ``CHARSET`` parameters."""
    if isinstance(data, str):
        if (
            len(data) > limits.max_bytes
            or len(data.encode("utf-8", "surrogatepass")) > limits.max_bytes
        ):
            raise _too_large(len(data.encode("utf-8", "surrogatepass")), limits)
        text = data.removeprefix("\ufeff")
    elif isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        if len(raw) > limits.max_bytes:
            raise _too_large(len(raw), limits)
        text = _decode_bytes(raw)
    else:
        raise MappingError(f"a vCard must be text or bytes, not {type(data).__name__}")
    binary = _BINARY.search(text)
    if binary:
        line = text.count("\n", 0, binary.start()) + 1
        raise MappingError(f"not a vCard: binary data (control character {binary[0]!r})", line=line)
    return text


def _too_large(size: int, limits: Limits) -> MappingError:
    return MappingError(
        f"vCard is {size:,} bytes, larger than the limit of {limits.max_bytes:,} bytes"
    )


def _decode_bytes(raw: bytes) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise MappingError(
                f"vCard declares UTF-16 but is not valid UTF-16: {exc.reason}"
            ) from None
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        error = exc
    charsets = {name.decode("ascii").lower() for name in _CHARSET_PARAM.findall(raw)}
    charsets.discard("utf-8")
    if len(charsets) == 1:
        charset = charsets.pop()
        try:
            return raw.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    line = raw.count(b"\n", 0, error.start) + 1
    column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
    raise MappingError(
        f"vCard is not valid UTF-8: byte 0x{raw[error.start]:02x} at column {column} "
        "(send UTF-8, or declare the charset with CHARSET= in vCard 2.1)",
        line=line,
    )


def read_card(text: str, limits: Limits = DEFAULT_LIMITS) -> Card:
    """Parse exactly one vCard from decoded text.

    ``BEGIN``/``END`` may carry a group (RFC 2426 section 4: ``home.BEGIN:VCARD``). Nested
    components must be closed in order: a card that leaves one open cannot be parsed by
    clients (ical.js refuses the whole card), so it is refused here with the reason.
    """
    lines = iter(logical_lines(text))
    begin = next(lines, None)
    if begin is None:
        raise MappingError("not a vCard: the input is empty")
    lineno, first = begin
    if not _BEGIN_VCARD.fullmatch(first.strip()):
        raise MappingError(f"not a vCard: expected BEGIN:VCARD, found {first[:40]!r}", line=lineno)
    body: list[ContentLine] = []
    nested: set[int] = set()
    open_components = [("VCARD", lineno)]  # (name, line of its BEGIN), innermost last
    for number, raw in lines:
        if len(body) >= limits.max_properties:
            raise MappingError(
                f"vCard has more than {limits.max_properties:,} properties", line=number
            )
        line = parse_line(raw, number)
        inside = len(open_components) > 1
        if line.key in _COMPONENT_KEYS:
            _enter_or_leave(line, open_components, body)
            if not open_components:
                _expect_nothing_after(lines)
                return Card(_version(body, nested), tuple(body), frozenset(nested))
        if inside or len(open_components) > 1:  # a nested component's lines, BEGIN/END too
            nested.add(len(body))
        body.append(line)
    raise MappingError(f"vCard is truncated: no END:VCARD for the BEGIN:VCARD on line {lineno}")


_BEGIN_VCARD = re.compile(r"(?:[A-Za-z0-9_-]+\.)?BEGIN:VCARD", re.IGNORECASE)
_COMPONENT_KEYS = frozenset({"BEGIN", "END"})


def _enter_or_leave(
    line: ContentLine, open_components: list[tuple[str, int]], body: list[ContentLine]
) -> None:
    """Push a ``BEGIN``, pop its ``END``; refuse what would leave the card unparseable."""
    name = line.value.strip().upper()
    if line.key == "BEGIN":
        if name == "VCARD" and not _embeds_agent(body):
            raise MappingError(
                "a second BEGIN:VCARD before the card's END:VCARD (is an END:VCARD missing?)",
                line=line.lineno,
            )
        open_components.append((name, line.lineno))
        return
    # Messages name no other line number: importers shift ``line`` to the file's numbering.
    inner, began = open_components[-1]
    if name == inner:
        open_components.pop()
        return
    if len(open_components) == 1:
        raise MappingError(f"END:{name} without a BEGIN:{name}", line=line.lineno)
    if name == "VCARD":
        raise MappingError(f"BEGIN:{inner} is never closed (END:VCARD comes first)", line=began)
    raise MappingError(f"END:{name} does not close the open BEGIN:{inner}", line=line.lineno)


def _embeds_agent(body: list[ContentLine]) -> bool:
    """vCard 2.1 embeds the agent's card right after an empty ``AGENT:`` line."""
    return bool(body) and body[-1].key == "AGENT" and not body[-1].value.strip()


def _expect_nothing_after(lines: Iterator[tuple[int, str]]) -> None:
    for number, raw in lines:
        if _BEGIN_VCARD.fullmatch(raw.strip()):
            raise MappingError("expected one vCard, found several", line=number)
        if raw.strip():
            raise MappingError(f"unexpected text after END:VCARD: {raw[:40]!r}", line=number)


def _version(body: list[ContentLine], nested: set[int]) -> str:
    for index, line in enumerate(body):
        if line.key == "VERSION" and index not in nested:
            version = line.value.strip()
            if version not in VERSIONS:
                raise MappingError(
                    f"unsupported vCard version {version!r} (expected 2.1, 3.0 or 4.0)",
                    line=line.lineno,
                )
            return version
    # Real servers accept cards without VERSION. One written with 2.1's own forms (bare
    # parameters, quoted-printable) is 2.1, so that it is converted when served; else 3.0.
    top = (line for index, line in enumerate(body) if index not in nested)
    return "2.1" if any(uses_21_forms(line) for line in top) else "3.0"
