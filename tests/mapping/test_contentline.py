"""The lossless content-line layer: folding, CRLF, escaping, parameters, 2.1 forms."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.mapping import MappingError
from bridge.mapping.contentline import (
    ContentLine,
    Param,
    caret_decode,
    caret_encode,
    decoded_value,
    escape_text,
    fold,
    join_card,
    logical_lines,
    parse_line,
    serialize,
    split_escaped,
    text_list,
    unescape_text,
)

unicode_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=400)


@settings(max_examples=300, deadline=None)
@given(line=unicode_text)
def test_fold_respects_75_octets_and_never_splits_a_character(line: str) -> None:
    physical = fold(line)
    assert all(len(p.encode("utf-8")) <= 75 for p in physical)
    assert all(p.startswith(" ") for p in physical[1:])
    # each physical line is valid UTF-8 on its own: no sequence was cut
    assert all(p.encode("utf-8").decode("utf-8") == p for p in physical)
    assert physical[0] + "".join(p[1:] for p in physical[1:]) == line


def test_fold_multibyte_boundary() -> None:
    line = "NOTE:" + "é" * 40  # 5 + 80 octets: the 36th é would straddle octet 75
    first, second = fold(line)
    assert len(first.encode()) == 75 and first.endswith("é")
    assert second == " " + "é" * 5


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(unicode_text.filter(lambda s: s and not s[0].isspace()), max_size=5))
def test_join_card_unfolds_back_with_crlf(lines: list[str]) -> None:
    lines = [line.replace("\r", "").replace("\n", "").replace("\x0b", "") or "X" for line in lines]
    lines = [line for line in lines if line.strip() and not line[0].isspace()]
    text = join_card(lines)
    assert text.endswith("\r\n") if lines else text == ""
    assert "\n" not in text.replace("\r\n", "")
    assert [raw for _, raw in logical_lines(text)] == lines


def test_crlf_lf_and_tab_folding_are_read() -> None:
    text = "BEGIN:VCARD\nNOTE:a\n\tb\r\n c\rEND:VCARD"
    assert [raw for _, raw in logical_lines(text)] == ["BEGIN:VCARD", "NOTE:abc", "END:VCARD"]


@given(value=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"])))
def test_escape_round_trip(value: str) -> None:
    value = value.replace("\r", "")
    escaped = escape_text(value)
    assert "\n" not in escaped
    assert unescape_text(escaped, "3.0") == value
    assert split_escaped(escaped, ";") == [escaped]  # no bare separator left


def test_escaping_reads_lenient_forms() -> None:
    assert unescape_text(r"a\,b\;c\\d\ne\Nf\:g", "4.0") == "a,b;c\\d\ne\nf:g"
    assert unescape_text(r"C:\temp", "3.0") == r"C:\temp"  # unknown escape kept
    assert unescape_text(r"a\;b\,c", "2.1") == r"a;b\,c"  # 2.1 only escapes ';'
    assert text_list(r"a,b\,c,,d", "4.0") == ["a", "b,c", "", "d"]
    assert split_escaped(r"a\\;b", ";") == ["a\\\\", "b"]  # an escaped backslash, then ';'


def test_parse_line_with_group_quoted_and_listed_params() -> None:
    line = parse_line('item1.TEL;TYPE="work,voice";X-Q="a;b:c";TYPE=pref,cell:+1 555', 7)
    assert (line.group, line.name, line.value, line.lineno) == ("item1", "TEL", "+1 555", 7)
    assert line.type_tokens() == ("work", "voice", "pref", "cell")
    assert line.param("x-q") == ("a;b:c",)
    assert line.text() == line.raw  # untouched lines are written as they came


def test_parse_line_vcard21_bare_params() -> None:
    line = parse_line("NOTE;WORK;ENCODING=QUOTED-PRINTABLE;CHARSET=utf-8:=C3=A9t=C3=A9")
    assert line.type_tokens() == ("WORK",)
    assert decoded_value(line) == "été"
    bare = parse_line("PHOTO;JPEG;BASE64:AAAA")
    assert bare.param("ENCODING") == ("BASE64",)
    assert bare.type_tokens() == ("JPEG",)


def test_quoted_printable_soft_line_breaks_are_joined() -> None:
    text = "NOTE;ENCODING=QUOTED-PRINTABLE:abc=\r\n def=0D=0A=\r\nghi\r\nFN:x"
    lines = [raw for _, raw in logical_lines(text)]
    assert lines == ["NOTE;ENCODING=QUOTED-PRINTABLE:abc def=0D=0Aghi", "FN:x"]
    assert decoded_value(parse_line(lines[0])) == "abc def\nghi"


def test_serialize_quotes_only_when_needed() -> None:
    line = ContentLine(
        "EMAIL", "a@b", (Param("TYPE", ("work", "pref")), Param("X-NAME", ("Doe, J",))), "g"
    )
    assert serialize(line) == 'g.EMAIL;TYPE=work,pref;X-NAME="Doe, J":a@b'


@given(value=st.text())
def test_caret_encoding_round_trip(value: str) -> None:
    encoded = caret_encode(value)
    assert '"' not in encoded and "\n" not in encoded
    assert caret_decode(encoded) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("NOTE", "no ':'"),
        ("NOTE;X=1", "no ':'"),
        ('NOTE;X="abc:d', "unterminated"),
        ("NO TE:x", "malformed property name"),
        (":x", "malformed property name"),
    ],
)
def test_malformed_lines(text: str, message: str) -> None:
    with pytest.raises(MappingError, match=message) as info:
        parse_line(text, 12)
    assert info.value.line == 12 and str(info.value).startswith("line 12:")


@pytest.mark.parametrize(
    ("text", "group", "name"),
    [
        ("FN:x", None, "FN"),
        ("item1.X-ABLabel:x", "item1", "X-ABLabel"),
        ("a.b.TEL;TYPE=work:1", "a.b", "TEL"),  # the group is everything before the last dot
        ("a..TEL:1", "a.", "TEL"),
        (".FN:x", None, "FN"),  # an empty group is no group
    ],
)
def test_parse_line_splits_group_and_name(text: str, group: str | None, name: str) -> None:
    line = parse_line(text)
    assert (line.group, line.name) == (group, name)


def test_unescape_reads_left_to_right() -> None:
    assert unescape_text(r"a\\n", "3.0") == "a\\n"  # an escaped backslash, then "n"
    assert unescape_text(r"a\\\n", "3.0") == "a\\\n"
    assert unescape_text("a\\", "3.0") == "a\\"  # a trailing backslash is kept
    assert unescape_text(r"\t\\,", "3.0") == "\\t\\,"


def test_split_without_escapes_keeps_empty_parts() -> None:
    assert split_escaped(";a;;b;", ";") == ["", "a", "", "b", ""]
    assert split_escaped("", ",") == [""]


def test_fold_keeps_short_multibyte_lines_whole() -> None:
    assert fold("é" * 37) == ["é" * 37]  # 74 octets
    assert fold("é" * 38) == ["é" * 37, " é"]  # 76 octets
