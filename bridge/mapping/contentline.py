"""Lossless vCard content lines (RFC 2425 / 2426 / 6350, and the vCard 2.1 forms Outlook sends).

vobject's parse-and-serialize round trip changes real cards (it drops the image of a 4.0
``PHOTO:data:`` URI, keeps one value of ``NICKNAME:a,b,c``, rewrites escapes), so the mapping
never has vobject build or serialize a card: a parsed line remembers its original text
(``raw``), and a line the mapping does not touch is written back exactly as it came, only
refolded.

The layer knows syntax, not meaning: unfolding (including vCard 2.1 quoted-printable soft line
breaks), group prefixes, parameters with quoting, value escaping per version, and folding at 75
octets without splitting a UTF-8 sequence. Escaping a TEXT value is vobject's own
(``backslashEscape``, ``serializeFields``). The rest is this module's own code, because each
vobject function for it loses or corrupts data on an input the mapping must read or write (one
of them a real Android card); MAPPING.md ("Where the mapping does not use vobject, and why")
lists each one with that input, and tests/mapping/test_vobject_layer.py shows it.
"""

from __future__ import annotations

import quopri
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from vobject.base import backslashEscape
from vobject.vcard import serializeFields

from .errors import MappingError

CRLF = "\r\n"
FOLD_OCTETS = 75

# vCard 2.1 writes parameter values without names (``TEL;WORK;VOICE``); these name an encoding.
_ENCODING_TOKENS = frozenset({"QUOTED-PRINTABLE", "BASE64", "B", "8BIT", "7BIT"})
_PHYSICAL_LINE = re.compile(r"\r\n|\n|\r")
_QP_MARK = re.compile(r"QUOTED-PRINTABLE", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_QUOTE_NEEDED = re.compile(r"[;:,]|^\s|\s$")
# The usual ``[group.]name`` in one match. A greedy group followed by a dot-free name splits at
# the last dot, as ``_split_head`` does; anything else (such as an error) is left to it.
_HEAD = re.compile(r"(?:([A-Za-z0-9_.-]+)\.)?([A-Za-z0-9_-]+)(?=[;:])")


@dataclass(frozen=True)
class Param:
    """One parameter; ``name`` is ``None`` for a vCard 2.1 bare value such as ``WORK``."""

    name: str | None
    values: tuple[str, ...]

    @property
    def key(self) -> str | None:
        return self.name.upper() if self.name is not None else None

    @property
    def effective_key(self) -> str:
        """The parameter's name, for a 2.1 bare value the name it stands for."""
        return self.name.upper() if self.name is not None else _bare_param_name(self.values[0])


@dataclass(frozen=True)
class ContentLine:
    """``[group.]name[;param...]:value``; ``value`` is the raw (still escaped) value text."""

    name: str
    value: str
    params: tuple[Param, ...] = ()
    group: str | None = None
    raw: str | None = field(default=None, compare=False)
    lineno: int = field(default=0, compare=False)

    @property
    def key(self) -> str:
        return self.name.upper()

    @property
    def group_key(self) -> str | None:
        return self.group.lower() if self.group else None

    def param(self, name: str) -> tuple[str, ...]:
        """Every value of the parameters called ``name`` (case-insensitive)."""
        wanted = name.upper()
        values: list[str] = []
        for param in self.params:
            if param.key == wanted:
                values.extend(param.values)
            elif param.key is None and _bare_param_name(param.values[0]) == wanted:
                values.append(param.values[0])
        return tuple(values)

    def first_param(self, name: str) -> str | None:
        values = self.param(name)
        return values[0] if values else None

    def type_tokens(self) -> tuple[str, ...]:
        """TYPE values in order, comma lists split (``TYPE="work,voice"``), 2.1 bare ones too."""
        tokens = (token.strip() for value in self.param("TYPE") for token in value.split(","))
        return tuple(token for token in tokens if token)

    def text(self) -> str:
        """The unfolded line: the original text when the line was parsed and not changed."""
        return self.raw if self.raw is not None else serialize(self)

    def changed(self, **changes: object) -> ContentLine:
        """A copy with ``changes`` applied; it no longer claims the original text."""
        return replace(self, raw=None, **changes)  # type: ignore[arg-type]


def uses_21_forms(line: ContentLine) -> bool:
    """Whether a line is written in vCard 2.1's own syntax, which 3.0 and 4.0 parsers refuse
    (ical.js): a parameter without a name (``TEL;WORK``) or a quoted-printable value."""
    for param in line.params:
        if param.name is None:
            return True
        if param.key == "ENCODING" and any(v.upper() == "QUOTED-PRINTABLE" for v in param.values):
            return True
    return False


def _bare_param_name(value: str) -> str:
    return "ENCODING" if value.upper() in _ENCODING_TOKENS else "TYPE"


# --- reading ---------------------------------------------------------------------------------


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Unfolded lines with the number of their first physical line; blank lines are skipped.

    A physical line starting with a space or tab continues the previous one (the space is
    removed). A quoted-printable value ending in ``=`` continues on the next line whatever that
    starts with (vCard 2.1 soft line break); ``=`` and the line break are removed, which leaves
    the value valid quoted-printable.
    """
    current: str | None = None
    start = 0
    for number, physical in enumerate(_PHYSICAL_LINE.split(text), 1):
        if current is not None and _continues_quoted_printable(current):
            current = current[:-1] + physical
        elif current is not None and physical[:1] in (" ", "\t"):
            current += physical[1:]
        else:
            if current:
                yield start, current
            current, start = physical, number
    if current:
        yield start, current


def _continues_quoted_printable(line: str) -> bool:
    if not line.endswith("="):
        return False
    head = line.split(":", 1)[0]
    return bool(_QP_MARK.search(head))


def parse_line(text: str, lineno: int = 0) -> ContentLine:
    """Parse one unfolded content line; ``MappingError`` (with the line number) if malformed."""
    head = _HEAD.match(text)
    if head is not None:  # a well-formed name, the common case: one regex does it all
        group, name, end = head[1] or "", head[2], head.end()
    else:
        group, name, end = _split_head(text, lineno)
    params: list[Param] = []
    pos = end
    while text[pos] == ";":
        param, pos = _parse_param(text, pos + 1, lineno)
        params.append(param)
    return ContentLine(
        name=name,
        value=text[pos + 1 :],
        params=tuple(params),
        group=group or None,
        raw=text,
        lineno=lineno,
    )


def _split_head(text: str, lineno: int) -> tuple[str, str, int]:
    """``[group.]name`` before the first ``;`` or ``:``: (group, name, where it ends)."""
    end = _find_any(text, ";:", 0)
    if end < 0:
        raise MappingError(f"not a vCard property (no ':'): {_excerpt(text)}", line=lineno)
    group, _, name = text[:end].rpartition(".")
    if not _NAME.fullmatch(name) or (group and not _NAME.fullmatch(group.replace(".", "-"))):
        raise MappingError(f"malformed property name {_excerpt(text[:end])}", line=lineno)
    return group, name, end


def _parse_param(text: str, pos: int, lineno: int) -> tuple[Param, int]:
    end = _find_any(text, "=;:", pos)
    if end < 0:
        raise MappingError(f"no ':' after the parameters: {_excerpt(text)}", line=lineno)
    name = text[pos:end].strip()
    if text[end] != "=":
        return Param(None, (name,)), end
    values: list[str] = []
    pos = end + 1
    while True:
        if pos < len(text) and text[pos] == '"':
            close = text.find('"', pos + 1)
            if close < 0:
                raise MappingError(f"unterminated quoted parameter value in {name}", line=lineno)
            values.append(text[pos + 1 : close])
            pos = close + 1
        else:
            stop = _find_any(text, ",;:", pos)
            if stop < 0:
                raise MappingError(f"no ':' after the parameters: {_excerpt(text)}", line=lineno)
            values.append(text[pos:stop])
            pos = stop
        if pos >= len(text):
            raise MappingError(f"no ':' after the parameters: {_excerpt(text)}", line=lineno)
        if text[pos] != ",":
            return Param(name, tuple(values)), pos
        pos += 1


def _find_any(text: str, chars: str, start: int) -> int:
    """The index of the first of ``chars`` at or after ``start``, else -1."""
    found = _ANY_OF[chars].search(text, start)
    return found.start() if found is not None else -1


# One compiled character class per delimiter set the parser uses: a regex scan instead of a
# Python loop per character.
_ANY_OF = {chars: re.compile(f"[{re.escape(chars)}]") for chars in (";:", "=;:", ",;:")}


def _excerpt(text: str, size: int = 40) -> str:
    return repr(text if len(text) <= size else text[:size] + "...")


# --- writing ---------------------------------------------------------------------------------


def serialize(line: ContentLine) -> str:
    """The unfolded text of a line built or changed by the mapping."""
    head = f"{line.group}.{line.name}" if line.group else line.name
    params = "".join(";" + _serialize_param(param) for param in line.params)
    return f"{head}{params}:{line.value}"


def _serialize_param(param: Param) -> str:
    if param.name is None:
        return param.values[0]
    return param.name + "=" + ",".join(_quote(value) for value in param.values)


def _quote(value: str) -> str:
    # A value that came with a stray DQUOTE cannot be quoted; it is written as it came.
    if '"' in value or not _QUOTE_NEEDED.search(value):
        return value
    return f'"{value}"'


def fold(line: str) -> list[str]:
    """Split an unfolded line into physical lines of at most 75 octets (RFC 6350 3.2).

    Continuation lines start with a space that counts towards the 75; a split never falls
    inside a UTF-8 sequence because it only happens between characters.
    """
    if line.isascii():  # fast path for photos: octets are characters
        if len(line) <= FOLD_OCTETS:
            return [line]
        step = FOLD_OCTETS - 1
        rest = line[FOLD_OCTETS:]
        return [line[:FOLD_OCTETS]] + [" " + rest[i : i + step] for i in range(0, len(rest), step)]
    if len(line.encode("utf-8", "surrogatepass")) <= FOLD_OCTETS:  # most lines: no fold
        return [line]
    out: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        octets = len(char.encode("utf-8", "surrogatepass"))
        if size + octets > FOLD_OCTETS:
            out.append("".join(current))
            current, size = [" "], 1
        current.append(char)
        size += octets
    out.append("".join(current))
    return out


def join_card(lines: Iterable[str]) -> str:
    """Physical card text: every line folded, CRLF after each one (also the last)."""
    return "".join(physical + CRLF for line in lines for physical in fold(line))


# --- values ----------------------------------------------------------------------------------

_ESCAPES = {"\\": "\\", "n": "\n", "N": "\n", ",": ",", ";": ";", ":": ":"}
_ESCAPE = re.compile(r"\\([" + re.escape("".join(_ESCAPES)) + "])")  # a known escape


# vobject's own escaping (untyped, hence the annotations): backslash, comma, semicolon and line
# break (``\r\n``, ``\r`` and ``\n`` alike) are escaped, as in RFC 2426 / 6350 structured values.
_backslash_escape: Callable[[str], str] = backslashEscape
_serialize_fields: Callable[[list[str]], str] = serializeFields


def escape_text(text: str) -> str:
    """Escape a TEXT value: backslash, line break, comma and semicolon (vobject's
    ``backslashEscape``)."""
    return _backslash_escape(text)


def unescape_text(text: str, version: str) -> str:
    """Undo TEXT escaping; an unknown escape such as ``\\t`` is kept as written.

    vCard 2.1 only escapes ``;`` (its values are otherwise literal).
    """
    if "\\" not in text:
        return text
    if version == "2.1":
        return text.replace("\\;", ";")
    # re.sub scans left to right without overlapping matches, as a character loop would: the
    # value \\n is an escaped backslash and an "n"; an unknown escape (\t) stays as written.
    return _ESCAPE.sub(_unescaped, text)


def _unescaped(match: re.Match[str]) -> str:
    return _ESCAPES[match[1]]


def split_escaped(text: str, separator: str) -> list[str]:
    """Split on ``separator`` where it is not escaped by a backslash; parts stay escaped."""
    if "\\" not in text:  # nothing is escaped: every separator splits
        return text.split(separator)
    parts: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            current.append(text[index : index + 2])
            index += 2
            continue
        if char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def text_list(value: str, version: str, separator: str = ",") -> list[str]:
    """A list-valued TEXT (``CATEGORIES``, ``NICKNAME``, N components): split, then unescape."""
    return [unescape_text(part, version) for part in split_escaped(value, separator)]


def join_escaped(parts: Sequence[str]) -> str:
    """A structured value (``N``, ``ORG``, ``ADR``): each part escaped, ``;`` between them
    (vobject's ``serializeFields``)."""
    return _serialize_fields(list(parts))


# Parameter values cannot hold DQUOTE or line breaks; RFC 6868 caret encoding carries them.
def caret_encode(text: str) -> str:
    return text.replace("^", "^^").replace("\n", "^n").replace('"', "^'")


def caret_decode(text: str) -> str:
    return re.sub(r"\^(\^|n|N|')", lambda m: {"^": "^", "n": "\n", "N": "\n", "'": '"'}[m[1]], text)


def decoded_value(line: ContentLine) -> str:
    """The value with a vCard 2.1 ``ENCODING=QUOTED-PRINTABLE`` / ``CHARSET`` undone."""
    if not any(value.upper() == "QUOTED-PRINTABLE" for value in line.param("ENCODING")):
        return line.value
    charset = line.first_param("CHARSET") or "utf-8"
    octets = quopri.decodestring(line.value.encode("utf-8"))
    try:
        # A lone CR (=0D) is a line break too: left raw, it would split the served line.
        return octets.decode(charset).replace("\r\n", "\n").replace("\r", "\n")
    except LookupError:
        raise MappingError(f"unknown CHARSET {charset!r}", line=line.lineno) from None
    except UnicodeDecodeError:
        raise MappingError(
            f"{line.name} value is not valid {charset} after quoted-printable decoding",
            line=line.lineno,
        ) from None
