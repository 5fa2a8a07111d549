"""A request's head, read the way HTTP/1.1 (RFC 9112) reads it: the request line, then
header fields up to the blank line.

``http.server`` hands the fields to the ``email`` package's MIME parser, which costs more
than answering a card GET; a header field is simpler than a MIME header, so it is split here.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Protocol, overload

MAX_LINE = 65536  # bytes of a request line or header line, as http.server allows
MAX_FIELDS = 100  # header fields, as http.server allows
_BLANK = (b"\r\n", b"\n", b"")


class _Lines(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...


class BadHead(Exception):
    """A request head this server refuses: the status and reason to answer with."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class RequestLine:
    method: str
    target: str
    version: str  # "HTTP/1.1"; "HTTP/0.9" for a request line without one
    persistent: bool  # whether the version keeps the connection open by default


class RequestHeaders:
    """A request's header fields in arrival order; names match regardless of case."""

    __slots__ = ("_fields", "_first")

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self._fields = fields
        self._first: dict[str, str] = {}
        for name, value in fields:
            self._first.setdefault(name.lower(), value)

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        """The first field named ``name``, or ``default``."""
        return self._first.get(name.lower(), default)

    def items(self) -> list[tuple[str, str]]:
        return list(self._fields)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first


def parse_request_line(raw: bytes) -> RequestLine | None:
    """The request line ``raw`` (its line end included), or None for a blank one (no
    request). Raises BadHead for one that is not HTTP/1.x (or HTTP/0.9's ``GET path``)."""
    words = raw.decode("iso-8859-1").split()
    if not words:
        return None
    if len(words) == 2 and words[0] == "GET":
        return RequestLine("GET", _target(words[1]), "HTTP/0.9", persistent=False)
    if len(words) != 3:
        raise BadHead(HTTPStatus.BAD_REQUEST, f"Bad request syntax ({raw!r})")
    method, target, version = words
    major, minor = _version(version)
    if major >= 2:
        raise BadHead(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, f"Invalid HTTP version ({version})")
    return RequestLine(method, _target(target), version, persistent=(major, minor) >= (1, 1))


def _version(version: str) -> tuple[int, int]:
    numbers = version[5:].split(".") if version.startswith("HTTP/") else []
    if len(numbers) != 2 or not all(n.isdigit() and len(n) <= 10 for n in numbers):
        raise BadHead(HTTPStatus.BAD_REQUEST, f"Bad request version ({version!r})")
    return int(numbers[0]), int(numbers[1])


def _target(target: str) -> str:
    return "/" + target.lstrip("/") if target.startswith("//") else target


def read_headers(rfile: _Lines) -> RequestHeaders:
    """The header fields up to the blank line that ends them. A line folded onto the next
    (obsolete, RFC 9112 5.2) is joined with a space; a line that is not a field, a name
    with blanks before its colon, an overlong line or too many fields raise BadHead."""
    fields: list[tuple[str, str]] = []
    while (line := rfile.readline(MAX_LINE + 1)) not in _BLANK:
        if len(line) > MAX_LINE:
            raise BadHead(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long")
        text = line.decode("iso-8859-1")
        if text[0] in " \t" and fields:
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {text.strip()}".strip())
            continue
        name, colon, value = text.partition(":")
        if not colon or not name or name != name.strip() or " " in name:
            raise BadHead(HTTPStatus.BAD_REQUEST, f"Bad header line ({text.rstrip()!r})")
        fields.append((name, value.strip()))
        if len(fields) > MAX_FIELDS:
            raise BadHead(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")
    return RequestHeaders(fields)
