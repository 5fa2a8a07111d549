"""vobject's own content-line functions beside the mapping's, one concern at a time.

The mapping stands on vobject wherever vobject's function is lossless: there it calls it. Where
it keeps its own code, a test here gives the input on which vobject's function loses or
corrupts data (MAPPING.md, "Where the mapping does not use vobject, and why", lists them):

1. logical lines (unfolding, vCard 2.1 quoted-printable soft line breaks): own code;
2. content-line parsing (group, name, parameters, quoting, 2.1 bare parameters): own code;
3. folding at 75 octets without splitting a UTF-8 sequence: own code;
4. text escaping: vobject's ``backslashEscape`` / ``serializeFields``; unescaping and
   splitting: own code.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vobject.base import (
    ParseError,
    VObjectError,
    backslashEscape,
    dquoteEscape,
    foldOneLine,
    getLogicalLines,
    parseLine,
)
from vobject.icalendar import stringToTextValues
from vobject.vcard import serializeFields, splitFields

from bridge.mapping import MappingError, from_vcard, to_vcard
from bridge.mapping.card import decode_input
from bridge.mapping.contentline import (
    ContentLine,
    Param,
    decoded_value,
    escape_text,
    fold,
    join_card,
    join_escaped,
    logical_lines,
    parse_line,
    serialize,
    split_escaped,
    text_list,
    unescape_text,
)

ROOT = Path(__file__).resolve().parents[2] / "fixtures" / "vcards"
INPUTS = sorted(p for p in ROOT.glob("*/*.vcf") if ".served-" not in p.name)
TEXTS = {f"{p.parent.name}/{p.stem}": decode_input(p.read_bytes()) for p in INPUTS}


def vobject_lines(text: str, *, allow_qp: bool = True) -> list[tuple[int, str]]:
    """vobject's logical lines as (line number, text), the mapping's order."""
    return [(n, line) for line, n in getLogicalLines(io.StringIO(text), allowQP=allow_qp)]


def texts_of(lines: list[tuple[int, str]]) -> list[str]:
    return [line for _, line in lines]


# --- 1. logical lines: own code ---------------------------------------------------------------


def test_vobject_logical_lines_agree_on_every_fixture_apart_from_the_soft_break_form() -> None:
    """On the real cards the texts agree; vobject keeps a soft break as ``=\\n`` in the value
    (quopri decodes both forms alike). The differences are the inputs below."""
    for name, text in TEXTS.items():
        theirs = [line.replace("=\n", "") for line in texts_of(vobject_lines(text))]
        assert theirs == texts_of(list(logical_lines(text))), name


def test_vobject_logical_lines_drop_a_whitespace_only_continuation() -> None:
    """A value whose last character is a space right after the fold point: an RFC 6350 folder
    (the mapping's own, for one) writes the continuation line ``"  "``. vobject reads a
    whitespace-only line as a blank line and ends the property there: the space is lost."""
    line = "NOTE:" + "a" * 70 + " "
    text = join_card(["BEGIN:VCARD", "VERSION:3.0", line, "FN:x", "END:VCARD"])
    assert "\r\n  \r\n" in text
    assert texts_of(list(logical_lines(text)))[2] == line
    assert texts_of(vobject_lines(text))[2] == line.rstrip()  # the space is gone


def test_vobject_logical_lines_swallow_the_property_after_a_value_ending_in_equals() -> None:
    """vobject takes any line that mentions quoted-printable and ends in ``=`` for a
    quoted-printable soft line break, also when the words are in a 3.0 value: the next
    property becomes part of the note, and the card loses its TEL."""
    text = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\n"
        "NOTE:quoted-printable ends a line with =\r\n"
        "TEL:+1 555 0100\r\nEND:VCARD\r\n"
    )
    ours = texts_of(list(logical_lines(text)))
    assert "TEL:+1 555 0100" in ours
    theirs = texts_of(vobject_lines(text))
    assert "NOTE:quoted-printable ends a line with =\nTEL:+1 555 0100" in theirs
    assert not any(line.startswith("TEL") for line in theirs)


def test_vobject_logical_lines_without_qp_read_a_soft_break_as_a_fold() -> None:
    """``allowQP=False`` (vobject's regex reader) does not know soft line breaks: a continuation
    that starts with a space is unfolded, so ``abc=`` + `` def`` becomes ``abc=def`` and
    decodes to the byte 0xDE instead of "abc def"."""
    text = "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=latin-1:abc=\r\n def\r\nFN:x\r\n"
    ours = parse_line(texts_of(list(logical_lines(text)))[0])
    assert decoded_value(ours) == "abc def"
    theirs = parse_line(texts_of(vobject_lines(text, allow_qp=False))[0])
    assert theirs.value == "abc=def"
    assert decoded_value(theirs) == "abc\xdef"


def test_vobject_logical_line_numbers_are_wrong() -> None:
    """Error messages name the line. vobject numbers the first line 0 and a line after a
    blank line by the blank one; its regex reader counts every CRLF twice."""
    text = "BEGIN:VCARD\r\n\r\nFN:x\r\nEND:VCARD\r\n"
    assert [n for n, _ in logical_lines(text)] == [1, 3, 4]
    assert [n for n, _ in vobject_lines(text)] == [0, 2, 4]
    assert [n for n, _ in vobject_lines(text, allow_qp=False)] == [1, 5, 7]


# --- 2. content-line parsing: own code --------------------------------------------------------


def as_vobject(line: ContentLine) -> tuple[str, list[list[str]], str, str | None]:
    """The mapping's parse in the shape of vobject's ``parseLine`` result."""
    # vobject drops an empty parameter (``TEL;:1``, a MediaTek phone's PBAP card), as the
    # mapping's 2.1 conversion does: it names nothing.
    params = [
        [p.name, *p.values] if p.name else [p.values[0]]
        for p in line.params
        if p.name is not None or p.values != ("",)
    ]
    return line.name, params, line.value, line.group


def test_vobject_parse_line_refuses_a_real_android_card() -> None:
    """Android writes a custom phone label as a bare parameter with its own letters
    (``TEL;X-Escritório``); vobject's name pattern is ASCII only, so the line, and with it
    the whole card, is refused. Every other line of the 80 cards parses alike."""
    refused = []
    for name, text in TEXTS.items():
        for _, raw in logical_lines(text):
            try:
                theirs = parseLine(raw)
            except ParseError:
                refused.append((name, raw))
                continue
            assert tuple(theirs) == as_vobject(parse_line(raw)), raw
    assert refused == [("android/export-custom", "TEL;X-Escritório:+351 21 555 0100")]
    assert from_vcard(TEXTS["android/export-custom"]).contact["phoneNumbers"][0] == {
        "number": "+351 21 555 0100",
        "type": "other",
    }


@pytest.mark.parametrize(
    ("raw", "ours", "theirs"),
    [
        # Lotus Notes underscores become dashes: a converted line changes its name
        ("X-MS_OL_DESIGN:x", ("X-MS_OL_DESIGN", [], "x", None), ("X-MS-OL-DESIGN", [], "x", None)),
        # an empty value and no value at all are told apart
        ("NOTE;X-A=:v", ("NOTE", [["X-A", ""]], "v", None), ("NOTE", [["X-A"]], "v", None)),
        # empty list items are kept
        (
            "TEL;TYPE=work,,voice:1",
            ("TEL", [["TYPE", "work", "", "voice"]], "1", None),
            ("TEL", [["TYPE", "work", "voice"]], "1", None),
        ),
    ],
)
def test_vobject_parse_line_changes_data(
    raw: str, ours: tuple[object, ...], theirs: tuple[object, ...]
) -> None:
    assert as_vobject(parse_line(raw)) == ours
    assert tuple(parseLine(raw)) == theirs


@pytest.mark.parametrize(
    "raw",
    [
        "a.b.TEL:1",  # a group with a dot (RFC 2425 allows any text before the last one)
        'NOTE;X-A=a"b:v',  # a stray DQUOTE in an unquoted value
        "TEL;X-Escritório:1",  # a non-ASCII 2.1 bare parameter
        "NOTE;X=1;:v",  # an empty parameter
    ],
)
def test_vobject_parse_line_refuses_lines_the_mapping_reads(raw: str) -> None:
    parse_line(raw)
    with pytest.raises(ParseError):
        parseLine(raw)


def test_vobject_parse_line_takes_exponential_time_on_a_line_without_colon() -> None:
    """vobject's parameter pattern nests repetitions: a line that cannot match backtracks
    through every split of its comma list (0.2 s for 18 commas, 3 s for 22, doubling with each
    further one). The mapping refuses the line at once."""
    raw = "NOTE;X=" + ",a" * 18
    start = time.perf_counter()
    with pytest.raises(MappingError, match="no ':'"):
        parse_line(raw)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    with pytest.raises(ParseError):
        parseLine(raw)
    theirs = time.perf_counter() - start
    assert ours < 0.01 < 0.05 < theirs


def test_vobject_dquote_escape_refuses_a_value_the_mapping_writes_back() -> None:
    """A stray DQUOTE read from a client's parameter cannot be quoted; the mapping writes it as
    it came when it converts the line, vobject's ``dquoteEscape`` raises."""
    line = ContentLine("NOTE", "v", (Param("X-A", ('a"b',)), Param(None, ("WORK",))))
    assert serialize(line) == 'NOTE;X-A=a"b;WORK:v'
    with pytest.raises(VObjectError):
        dquoteEscape('a"b')


# --- 3. folding: own code ---------------------------------------------------------------------


def vobject_fold(line: str) -> list[str]:
    out = io.StringIO()
    foldOneLine(out, line)
    return out.getvalue().split("\r\n")[:-1]


def test_vobject_fold_leaves_short_multibyte_lines_over_75_octets() -> None:
    """foldOneLine counts characters to decide whether to fold: a line of fewer than 75
    characters is written whole, however many octets it has."""
    line = "NOTE:" + "é" * 40  # 45 characters, 85 octets
    assert [len(p.encode()) for p in fold(line)] == [75, 11]
    assert [len(p.encode()) for p in vobject_fold(line)] == [85]


def test_vobject_fold_exceeds_75_octets_on_real_cards_and_agrees_otherwise() -> None:
    """Over every line the mapping serves for the 80 cards (both versions), vobject writes some
    physical lines longer than 75 octets (a Russian and a Japanese address: 54 characters, 76
    octets; 59 characters, 83 octets); every line it does fold, it folds as the mapping
    does."""
    over = set()
    for path in INPUTS:
        card = from_vcard(path.read_bytes())
        for version in ("3.0", "4.0"):
            served = to_vcard(card.contact, version, card.shadow, uid=card.uid or "x")
            for _, line in logical_lines(served):
                theirs = vobject_fold(line)
                if any(len(p.encode()) > 75 for p in theirs):
                    over.add(f"{path.parent.name}/{path.stem}")
                else:
                    assert theirs == fold(line), line
    assert over == {"android/export-qp", "apple/ios-phonetic"}  # named in MAPPING.md


# --- 4. escaping: vobject's; unescaping and splitting: own code -------------------------------


def reference_escape(text: str) -> str:
    """The mapping's escaping before it used vobject's (RFC 6350 3.4, structured values)."""
    text = text.replace("\\", "\\\\").replace("\n", "\\n").replace(",", "\\,")
    return text.replace(";", "\\;")


def test_escaping_is_vobjects() -> None:
    assert escape_text("a;b,c\\d\ne") == backslashEscape("a;b,c\\d\ne") == "a\\;b\\,c\\\\d\\ne"
    assert join_escaped(["a;b", "c,d", ""]) == serializeFields(["a;b", "c,d", ""])


def test_vobject_escaping_is_the_same_on_every_fixture_value() -> None:
    """Every text of every contact read from the 80 cards escapes as before."""
    values: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, str):
            values.append(node)
        elif isinstance(node, dict):
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    for path in INPUTS:
        walk(from_vcard(path.read_bytes()).contact)
    assert len(values) > 500
    for value in values:
        assert backslashEscape(value) == reference_escape(value), value


@settings(max_examples=300, deadline=None)
@given(value=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"])))
def test_vobject_escaping_is_the_same_on_normalised_text(value: str) -> None:
    """The contact's text reaches escaping normalised: no CR (schema.normalize). There the
    two agree; vobject also escapes a CR, which the old code would have written raw."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    assert backslashEscape(value) == reference_escape(value)
    assert unescape_text(escape_text(value), "3.0") == value


@pytest.mark.parametrize(
    ("escaped", "ours", "theirs"),
    [
        ("C:\\", "C:\\", "C:\\eof"),  # a trailing backslash gets "eof" appended
        ("\\", "\\", "\\eof"),
        ("a\\:b", "a:b", "a\\:b"),  # vCard 3.0 writers escape ':' (RFC 2426's examples)
    ],
)
def test_vobject_unescaping_corrupts_values(escaped: str, ours: str, theirs: str) -> None:
    assert unescape_text(escaped, "3.0") == ours
    assert stringToTextValues(escaped, listSeparator=None) == [theirs]


def test_vobject_text_decoding_keeps_only_the_first_part_of_an_unescaped_comma() -> None:
    """vobject decodes a single TEXT value by splitting on ',' and keeping the first part:
    ``NOTE:Hi, Bob`` (an unescaped comma, common in 2.1 and in hand-written cards) reads as
    "Hi"."""
    assert unescape_text("Hi, Bob", "3.0") == "Hi, Bob"
    assert stringToTextValues("Hi, Bob")[0] == "Hi"


def test_vobject_unescaping_knows_no_version() -> None:
    """vCard 2.1 values are literal apart from ``\\;``: a 2.1 note ``C:\\new`` is a path."""
    assert unescape_text("C:\\new\\,x", "2.1") == "C:\\new\\,x"
    assert stringToTextValues("C:\\new\\,x", listSeparator=None) == ["C:\n" + "ew,x"]


def test_vobject_split_fields_drops_a_trailing_empty_component() -> None:
    """``ADR:;;Main St;;;;`` has 7 components; vobject's splitFields returns 6, so components
    after the mapped ones cannot be kept in place (``N``/``ORG``/``ADR`` extras)."""
    assert len(split_escaped(";;Main St;;;;", ";")) == 7
    assert len(splitFields(";;Main St;;;;")) == 6
    assert text_list("a,b,", "3.0") == ["a", "b", ""]
    assert stringToTextValues("a,b,") == ["a", "b"]
