"""One vCard as a sequence of content lines: input decoding, limits, BEGIN/END/VERSION checks.

Everything that can make an input "not a usable vCard" is detected here and reported as one
``MappingError`` with a message a user can act on.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .contentline import ContentLine, logical_lines, parse_line
from .errors import MappingError
from .limits import DEFAULT_LIMITS, Limits

VERSIONS = ("2.1", "3.0", "4.0")
_BINARY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CHARSET_PARAM = re.compile(rb";CHARSET=([A-Za-z0-9_.-]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Card:
    """The properties between ``BEGIN:VCARD`` and its ``END:VCARD``, in order.

    ``nested`` holds the indexes of lines inside an embedded card (vCard 2.1 ``AGENT``), which
    belong to that card and are never mapped.
    """

    version: str
    lines: tuple[ContentLine, ...]
    nested: frozenset[int] = frozenset()

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
    """Parse exactly one vCard from decoded text."""
    lines = iter(logical_lines(text))
    begin = next(lines, None)
    if begin is None:
        raise MappingError("not a vCard: the input is empty")
    lineno, first = begin
    if first.strip().upper() != "BEGIN:VCARD":
        raise MappingError(f"not a vCard: expected BEGIN:VCARD, found {first[:40]!r}", line=lineno)
    body: list[ContentLine] = []
    nested: set[int] = set()
    depth = 1
    for number, raw in lines:
        if len(body) >= limits.max_properties:
            raise MappingError(
                f"vCard has more than {limits.max_properties:,} properties", line=number
            )
        line = parse_line(raw, number)
        before, depth = depth, depth + _depth_change(line)
        if depth == 0:
            _expect_nothing_after(lines)
            return Card(_version(body, nested), tuple(body), frozenset(nested))
        if max(before, depth) > 1:  # the embedded card's lines, its BEGIN and END included
            nested.add(len(body))
        body.append(line)
    raise MappingError(f"vCard is truncated: no END:VCARD for the BEGIN:VCARD on line {lineno}")


def _depth_change(line: ContentLine) -> int:
    if line.value.strip().upper() != "VCARD":
        return 0
    return {"BEGIN": 1, "END": -1}.get(line.key, 0)


def _expect_nothing_after(lines: Iterator[tuple[int, str]]) -> None:
    for number, raw in lines:
        if raw.strip().upper() == "BEGIN:VCARD":
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
    return "3.0"  # real servers accept cards without VERSION; 3.0 is the common reading
