"""Fidelity over every real producer's card in fixtures/vcards/<producer>/<name>.vcf.

- A 3.0 or 4.0 card served in its own version is the card as sent (apart from folding and
  CRLF): nothing added, nothing dropped. The few documented exceptions have a reviewed
  ``<name>.served-<version>.vcf`` beside them.
- A vCard 2.1 card (or a version-less one in 2.1's forms) is served as strict 3.0: vobject
  parses it, no bare parameter, quoted-printable or CHARSET is left, and every property and
  every TYPE value the mapping does not translate is kept.
- Every rendering, in the card's version and in the other one, parses strictly with vobject
  and reads back as the same Aurinko contact.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest
import vobject

from bridge.mapping import ParsedCard, from_vcard, to_vcard
from bridge.mapping.card import read_card
from bridge.mapping.contentline import ContentLine
from bridge.mapping.table import RULE_BY_PROPERTY

from .kept import lost

ROOT = Path(__file__).resolve().parents[2] / "fixtures" / "vcards"
INPUTS = sorted(p for p in ROOT.glob("*/*.vcf") if ".served-" not in p.name)
VERSION = {path: from_vcard(path.read_bytes()).version for path in INPUTS}
WRITE = os.environ.get("MAPPING_GOLDEN_WRITE") == "1"
OTHER = {"2.1": ("3.0", "4.0"), "3.0": ("4.0",), "4.0": ("3.0",)}
# Properties the mapping reads under one name and writes under another (Outlook 2.1).
RENAMED = {
    "X-MS-TEL": "TEL",
    "X-MS-SPOUSE": "X-ABRELATEDNAMES",
    "X-MS-MANAGER": "X-ABRELATEDNAMES",
    "X-MS-ASSISTANT": "X-ABRELATEDNAMES",
}


def name(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def parsed(path: Path) -> tuple[ParsedCard, str]:
    """The card read, and the UID it is served with (the store assigns one when it has none)."""
    card = from_vcard(path.read_bytes())
    return card, card.uid or f"golden-{path.stem}"


def unfolded(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\n ", "").replace("\n\t", "")
    return [line for line in text.split("\n") if line]


# The cards not served exactly as sent in their own version, and why; each has a reviewed
# <name>.served-<version>.vcf (MAPPING_GOLDEN_WRITE=1 writes a missing one).
NORMALISED = {
    "evolution/bare-params-3.0": "2.1 syntax (TEL;WORK;VOICE) is named: ical.js refuses it",
    "evolution/versionless-3": "VERSION:3.0 and the store's UID are added",
    "evolution/eds-custom-4": "VERSION:3.0 is added",
    "google/no-uid": "no UID: the store's UID is added",
    "rfc/grouped-begin-3.0": "BEGIN, END, VERSION and UID are written without their group",
}


def served_golden(path: Path, version: str, actual: str) -> str | None:
    golden = path.with_name(f"{path.stem}.served-{version}.vcf")
    if name(path) not in NORMALISED and not path.with_suffix(".json").exists():
        assert not golden.exists(), f"{golden.name} without an entry in NORMALISED"
        return None
    if WRITE and not golden.exists():
        golden.write_bytes(actual.encode("utf-8"))
    return golden.read_bytes().decode("utf-8")


def strict(text: str) -> None:
    """vobject (what stock Radicale runs) parses it, and no 2.1-only syntax is left."""
    # vobject validates against 3.0's rules; 4.0 allows several N (ALTID), so parse only.
    card = vobject.readOne(text, validate=text.startswith("BEGIN:VCARD\r\nVERSION:3.0\r\n"))
    assert card.name == "VCARD"
    for line in lines_of(text):
        for param in line.params:
            assert param.name is not None, f"bare parameter in {line.text()!r}"
            assert param.key != "CHARSET", f"CHARSET in {line.text()!r}"
            if param.key == "ENCODING":
                assert [v.lower() for v in param.values] == ["b"], line.text()


def lines_of(text: str) -> list[ContentLine]:
    card = read_card(text)
    return [line for i, line in enumerate(card.lines) if i not in card.nested]


@pytest.mark.parametrize("path", [p for p in INPUTS if VERSION[p] != "2.1"], ids=name)
def test_own_version_is_the_card_as_sent(path: Path) -> None:
    card, uid = parsed(path)
    served = to_vcard(card.contact, card.version, card.shadow, uid=uid)
    golden = served_golden(path, card.version, served)
    if golden is not None:  # a documented normalisation, reviewed by hand
        assert served == golden
    else:
        assert unfolded(served) == unfolded(card.shadow)
    strict(served)
    assert from_vcard(served).contact == card.contact


@pytest.mark.parametrize("path", [p for p in INPUTS if VERSION[p] == "2.1"], ids=name)
def test_21_is_served_as_strict_30(path: Path) -> None:
    card, uid = parsed(path)
    served = to_vcard(card.contact, "3.0", card.shadow, uid=uid)
    strict(served)
    before, after = lines_of(card.shadow), lines_of(served)
    missing = _keys(before) - _keys(after)
    assert not missing, f"properties dropped: {missing}"
    for key, tokens in _tokens(before).items():
        rule = RULE_BY_PROPERTY.get(key)
        translated = rule.types.vocabulary - rule.types.carried if rule and rule.types else set()
        kept = tokens - translated - {"PREF", "QUOTED-PRINTABLE", "BASE64", "8BIT"}
        assert kept <= _tokens(after)[RENAMED.get(key, key)], (key, kept)


def _keys(lines: Iterable[ContentLine]) -> Counter[str]:
    return Counter(RENAMED.get(line.key, line.key) for line in lines if line.key != "VERSION")


def _tokens(lines: Iterable[ContentLine]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for line in lines:
        out.setdefault(RENAMED.get(line.key, line.key), set()).update(
            token.upper() for token in line.type_tokens()
        )
    return out


# Real mapping limitations, each with its precise reason.
XFAIL: dict[str, str] = {}


def _xfailed(paths: list[Path]) -> list[object]:
    return [
        pytest.param(p, marks=pytest.mark.xfail(reason=XFAIL[name(p)], strict=True))
        if name(p) in XFAIL
        else p
        for p in paths
    ]


@pytest.mark.parametrize("path", _xfailed(INPUTS), ids=name)
def test_other_versions_parse_strictly_and_read_back(path: Path) -> None:
    card, uid = parsed(path)
    for version in OTHER[card.version]:
        served = to_vcard(card.contact, version, card.shadow, uid=uid)
        strict(served)
        assert from_vcard(served).contact == card.contact, version
        again = from_vcard(served)  # and serving that card again changes nothing
        assert to_vcard(again.contact, version, again.shadow) == served, version


# --- issue 24: every property and every TYPE value of the input is on the output -------------


@pytest.mark.parametrize("path", INPUTS, ids=name)
def test_every_property_and_type_survives_both_versions(path: Path) -> None:
    """The checker (tests/mapping/kept.py) over every fixture, served in its own version (2.1
    and version-less cards: 3.0) and in the other one."""
    card, uid = parsed(path)
    for version in ("3.0", "4.0"):
        served = to_vcard(card.contact, version, card.shadow, uid=uid)
        assert lost(card.shadow, served) == [], version


@pytest.mark.parametrize("path", [p for p in INPUTS if VERSION[p] == "4.0"], ids=name)
def test_40_served_as_30_and_written_back_comes_back_as_40(path: Path) -> None:
    """A 3.0 client receives the 4.0 card as 3.0 and writes it back unchanged: asked for as
    4.0 again, it has every property of the card first written (KIND, GENDER, LANG, ALTID
    alternatives...), and its 3.0 form has one N and one FN."""
    card, uid = parsed(path)
    as_30 = to_vcard(card.contact, "3.0", card.shadow, uid=uid)
    top = Counter(line.key for line in lines_of(as_30))
    assert top["FN"] == 1 and top["N"] <= 1
    assert not {"KIND", "GENDER", "LANG", "ANNIVERSARY", "CLIENTPIDMAP", "XML"} & set(top)
    written_back = from_vcard(as_30)
    again = to_vcard(written_back.contact, "4.0", written_back.shadow, uid=uid)
    assert lost(card.shadow, again) == []
    assert written_back.contact == card.contact
