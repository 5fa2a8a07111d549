"""Golden cards from real clients: fixtures/vcards/<source>/<name>.vcf that have

- ``<name>.json``: the Aurinko contact ``from_vcard`` must produce;
- ``<name>.served-3.0.vcf`` / ``.served-4.0.vcf``: the card served for that contact with the
  input as shadow (cards without a UID get ``golden-<name>``, as the store would assign one).

The expected files are the specification, reviewed by hand; they are never rewritten by the
test. ``MAPPING_GOLDEN_WRITE=1`` writes the missing served cards of a card that has a ``.json``, to
be reviewed. Cards without a ``.json`` are covered by ``test_fidelity.py`` only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import vobject

from bridge.mapping import from_vcard, to_vcard

ROOT = Path(__file__).resolve().parents[2] / "fixtures" / "vcards"
INPUTS = sorted(p for p in ROOT.glob("*/*.vcf") if ".served-" not in p.name)
CARDS = [p for p in INPUTS if p.with_suffix(".json").exists()]
WRITE = os.environ.get("MAPPING_GOLDEN_WRITE") == "1"


def expect(path: Path, actual: str) -> str:
    if WRITE and not path.exists():
        path.write_bytes(actual.encode("utf-8"))
    return path.read_bytes().decode("utf-8")


@pytest.mark.parametrize("source", CARDS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden_contact(source: Path) -> None:
    parsed = from_vcard(source.read_bytes())
    actual = json.dumps(parsed.contact, indent=2, ensure_ascii=False) + "\n"
    assert json.loads(expect(source.with_suffix(".json"), actual)) == parsed.contact
    assert parsed.shadow == source.read_bytes().decode("utf-8")


@pytest.mark.parametrize("version", ["3.0", "4.0"])
@pytest.mark.parametrize("source", CARDS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden_served_card(source: Path, version: str) -> None:
    parsed = from_vcard(source.read_bytes())
    expected_contact = json.loads(source.with_suffix(".json").read_text("utf-8"))
    uid = None if parsed.uid else f"golden-{source.stem}"
    served = to_vcard(expected_contact, version, parsed.shadow, uid=uid)
    assert served == expect(source.with_name(f"{source.stem}.served-{version}.vcf"), served)
    # what we serve reads back as the same contact, and Radicale's parser accepts it
    assert from_vcard(served).contact == expected_contact
    assert vobject.readOne(served).uid.value == (parsed.uid or uid)


def test_every_source_has_fixtures() -> None:
    assert {p.parent.name for p in CARDS} >= {"google", "apple", "outlook", "thunderbird", "davx5"}
    assert len(INPUTS) >= 60
