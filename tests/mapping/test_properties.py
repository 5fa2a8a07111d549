"""Property-based round trips, in both served versions.

1. contact -> vCard -> contact is the identity on normalised contacts (``schema.normalize``
   lists the few equivalences), and every rendered card is readable by vobject (Radicale
   parses what we serve with it).
2. vCard -> (contact, shadow) -> vCard keeps every property and parameter of the input: the
   same version keeps every input line verbatim (after unfolding); another version keeps
   unmapped lines verbatim, the mapped values, and the client's X- parameters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import pytest
import vobject
from hypothesis import HealthCheck, given, settings

from bridge.mapping import from_vcard, normalize, to_vcard
from bridge.mapping.card import read_card
from bridge.mapping.contentline import ContentLine, logical_lines, parse_line
from bridge.mapping.parse import decode_units

from .strategies import contact, vcards

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("version", ["3.0", "4.0"])
@SETTINGS
@given(c=contact)
def test_contact_round_trip_is_identity(version: str, c: dict) -> None:
    card = to_vcard(c, version)
    parsed = from_vcard(card)
    assert parsed.contact == normalize(c)
    assert parsed.version == version
    assert_well_formed(card)
    assert vobject.readOne(card).fn.value == parsed.contact.get("name", {}).get("displayName", "")


@pytest.mark.parametrize("version", ["3.0", "4.0"])
@SETTINGS
@given(c=contact)
def test_contact_round_trip_through_its_own_shadow(version: str, c: dict) -> None:
    """Rendering again with the served card as shadow changes nothing."""
    card = to_vcard(c, version)
    assert to_vcard(c, version, card) == card


@pytest.mark.parametrize("served", ["3.0", "4.0"])
@SETTINGS
@given(sample=vcards())
def test_card_round_trip_keeps_every_property(served: str, sample: tuple[str, str]) -> None:
    version, text = sample
    parsed = from_vcard(text)
    out = to_vcard(parsed.contact, served, parsed.shadow)
    assert_well_formed(out)
    assert from_vcard(out).contact == parsed.contact
    vobject.readOne(out)
    inputs, outputs = lines_of(text), lines_of(out)
    if served == version:
        missing = texts(inputs) - texts(outputs)
        assert not missing, missing
        return
    mapped = mapped_indexes(text)
    unmapped = [line for i, line in enumerate(inputs) if i not in mapped]
    missing = texts(line for line in unmapped if line.key != "VERSION") - texts(outputs)
    assert not missing, missing
    client_params = x_params(line for i, line in enumerate(inputs) if i in mapped)
    assert not client_params - x_params(outputs)


def texts(lines: Iterable[ContentLine]) -> Counter[str]:
    return Counter(line.text() for line in lines)


def lines_of(text: str) -> list[ContentLine]:
    return [parse_line(raw, n) for n, raw in logical_lines(text)][1:-1]


def mapped_indexes(text: str) -> set[int]:
    units = decode_units(read_card(text))
    return {i for unit in units for i in (*unit.owned_lines,)}


def x_params(lines: Iterable[ContentLine]) -> Counter[tuple[str, tuple[str, ...]]]:
    """The client's own X- parameters (not the ones the mapping writes)."""
    return Counter(
        (p.effective_key, p.values)
        for line in lines
        for p in line.params
        if p.effective_key.startswith("X-") and p.effective_key not in {"X-NAME", "X-KEY"}
    )


def assert_well_formed(card: str) -> None:
    assert card.endswith("\r\n")
    physical = card[:-2].split("\r\n")
    assert all(len(line.encode("utf-8")) <= 75 for line in physical)
    assert "\n" not in card.replace("\r\n", "")
    assert physical[0] == "BEGIN:VCARD" and physical[-1] == "END:VCARD"
    assert physical[1].startswith("VERSION:")
    keys = Counter(line.key for line in lines_of(card))
    assert keys["UID"] == 1 and keys["FN"] >= 1 and keys["VERSION"] == 1
