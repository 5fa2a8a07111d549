"""vCard 2.1 / 3.0 / 4.0 -> Aurinko contact (``from_vcard``), and the per-line reading that the
renderer reuses to merge a contact back into a shadow card."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .card import Card, decode_input, read_card
from .contentline import ContentLine, unescape_text
from .convert import as_modern
from .limits import DEFAULT_LIMITS, Limits
from .rules import Context, Rule, text_value
from .schema import normalize
from .table import LABEL_PROPERTY, RULE_BY_PROPERTY, RULES


@dataclass(frozen=True)
class ParsedCard:
    """What a client's card means for Aurinko.

    ``contact``: Aurinko JSON (spec names, normal form, never read-only fields).
    ``shadow``: the card text as sent (decoded), to merge remote changes into later; a 2.1
    card's contact is read from its 3.0 conversion, which is also what it is served as.
    ``uid``: the card's UID, ``None`` if it has none. ``version``: "2.1", "3.0" or "4.0".
    ``read``: the shadow as read (in 3.0 or 4.0 syntax) and its mapped values, so that
    rendering the card just parsed does not read it again.
    """

    contact: dict[str, Any]
    shadow: str
    uid: str | None
    version: str
    read: ShadowRead | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Unit:
    """The lines of a card one mapped value was read from.

    ``index``: the property line. ``label``: the ``X-ABLabel`` line that decided the value's
    type. ``attached``: the other lines of the property's own group (``itemN.X-ABADR``, a label
    that did not decide anything), which go when the value is removed.
    """

    rule: Rule
    index: int
    value: Any
    label: int | None = None
    attached: tuple[int, ...] = ()

    @property
    def owned_lines(self) -> tuple[int, ...]:
        return (self.index,) if self.label is None else (self.index, self.label)


ShadowRead = tuple[Card, list[Unit]]  # a card as read: its lines and its mapped values


def from_vcard(text: str | bytes, *, limits: Limits | None = None) -> ParsedCard:
    """Parse one vCard into an Aurinko contact plus the shadow card.

    Raises ``MappingError`` (only) for input that is not one usable vCard.
    """
    limits = limits or DEFAULT_LIMITS
    shadow = decode_input(text, limits)
    written = read_card(shadow, limits)
    card = as_modern(written)  # a 2.1 card is read as its 3.0 conversion
    units = decode_units(card, limits)
    return ParsedCard(
        contact=assemble(units),
        shadow=shadow,
        uid=card_uid(card),
        version=written.version,
        read=(card, units),
    )


def card_uid(card: Card) -> str | None:
    found = card.first("UID")
    if found is None:
        return None
    return unescape_text(found[1].value, card.version).strip() or None


def decode_units(card: Card, limits: Limits = DEFAULT_LIMITS) -> list[Unit]:
    """Every mapped value of a card with the lines it came from, in card order."""
    ctx = Context(card.version, limits)
    labels = _labels(card)
    taken: set[int] = set()  # ids of scalar rules that already own a line
    units: list[Unit] = []
    for index, line in enumerate(card.lines):
        rule = RULE_BY_PROPERTY.get(line.key)
        if rule is None or index in card.nested or id(rule) in taken:
            continue
        label = labels.get(line.group_key) if line.group_key else None
        found = rule.decode(line, label[1] if label else None, ctx)
        if found is None:
            continue
        if not rule.repeated:
            taken.add(id(rule))
        owned_label = label[0] if label and found.used_label else None
        units.append(Unit(rule, index, found.value, owned_label))
    return _attach_groups(card, units)


def _labels(card: Card) -> dict[str, tuple[int, str]]:
    """The first ``X-ABLabel`` of each group: (line index, label text)."""
    labels: dict[str, tuple[int, str]] = {}
    for index, line in enumerate(card.lines):
        if line.key == LABEL_PROPERTY and line.group_key and index not in card.nested:
            labels.setdefault(line.group_key, (index, text_value(line, card.version)))
    return labels


def _attach_groups(card: Card, units: list[Unit]) -> list[Unit]:
    """A group that holds exactly one mapped property describes that property only."""
    by_group: defaultdict[str, list[int]] = defaultdict(list)
    for position, unit in enumerate(units):
        group = card.lines[unit.index].group_key
        if group:
            by_group[group].append(position)
    members: defaultdict[str, list[int]] = defaultdict(list)
    for index, line in enumerate(card.lines):
        group = line.group_key
        if group in by_group and group is not None and index not in card.nested:
            members[group].append(index)
    out = list(units)
    for group, positions in by_group.items():
        if len(positions) != 1:
            continue
        unit = units[positions[0]]
        rest = tuple(i for i in members[group] if i not in unit.owned_lines)
        out[positions[0]] = Unit(unit.rule, unit.index, unit.value, unit.label, rest)
    return out


def assemble(units: Sequence[Unit]) -> dict[str, Any]:
    """The contact the units describe, in normal form."""
    contact: dict[str, Any] = {}
    by_rule = units_by_rule(units)
    for rule in RULES:
        values = [unit.value for unit in by_rule.get(rule, ()) if unit.value is not None]
        if values:
            rule.inject(contact, values)
    return normalize(contact)


def units_by_rule(units: Sequence[Unit]) -> dict[Rule, list[Unit]]:
    """The units of each rule, in card order: one pass instead of one scan per rule."""
    grouped: dict[Rule, list[Unit]] = {}
    for unit in units:
        grouped.setdefault(unit.rule, []).append(unit)
    return grouped


def line_value(rule: Rule, line: ContentLine, label: str | None, ctx: Context) -> Any:
    """What a single (rendered) line decodes to, for checking a rewrite before using it."""
    found = rule.decode(line, label, ctx)
    return None if found is None else found.value
