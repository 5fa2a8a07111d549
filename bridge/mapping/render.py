"""Aurinko contact -> vCard 3.0 / 4.0 (``to_vcard``), merged into the client's shadow card.

Without a shadow the card is written from the table alone. With one, the result is the shadow's
lines with every line the table owns brought up to date, rule by rule:

1. A value the shadow already says is kept as its original line, byte for byte (same version
   only: a card served in another version is converted, see 3).
2. A changed value takes over a line of the same kind (same rule, same type) and rewrites it,
   keeping the line's group, its ``X-ABLabel`` and the client's own parameters (``PREF``,
   ``LANGUAGE``, ``X-...``) and, for N / ORG / ADR, components beyond the mapped ones.
3. When the served version differs from the shadow's, kept values are rewritten the same way in
   the served version's spelling (BDAY omit-year, PHOTO encoding, RELATED vs
   X-ABRELATEDNAMES, TYPE values, ``TYPE=PREF`` vs ``PREF=1``).
4. A value with no line is written new next to its kind (or at the end); a line whose value is
   gone remotely is removed with the rest of its group.
5. Lines the table does not own are written back as they came. A 2.1 shadow is read as its
   3.0 conversion (``convert.as_modern``: every line's parameters named, quoted-printable and
   CHARSET decoded, values re-escaped, nothing else changed), so it is served as a 3.0 card;
   a 3.0/4.0 line in 2.1 syntax is converted the same way. Served in the other version, only
   the properties that version lacks are renamed (``KIND`` <-> ``X-ADDRESSBOOKSERVER-KIND``)
   and a 4.0 card's further ALTID alternatives become ``X-ALTID-<name>`` in 3.0.

Every rewrite is decoded again before it is used; if it would not read back as the contact's
value, the value is written fresh instead. The lines of one rule keep the contact's order.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .card import Card, decode_input, read_card
from .contentline import ContentLine, Param, escape_text, join_card
from .convert import alternates, as_modern, unmapped_in
from .errors import MappingError
from .identity import derive_uid
from .limits import Limits
from .parse import ShadowRead, Unit, card_uid, decode_units, line_value, units_by_rule
from .rules import Context, Rendered, Rule, text_value
from .schema import normalize
from .table import LABEL_PROPERTY, RULES
from .typetable import TypeTable
from .values import render_rev

SERVED_VERSIONS = ("3.0", "4.0")
PRODID = "-//Aurinko CardDAV Bridge//mapping//EN"
# A shadow is a card this bridge accepted before: it is not checked against limits again.
_TRUSTED = Limits(sys.maxsize, sys.maxsize, sys.maxsize)


def to_vcard(
    contact: Mapping[str, Any],
    version: str = "3.0",
    shadow: str | None = None,
    *,
    uid: str | None = None,
    read: ShadowRead | None = None,
) -> str:
    """Render an Aurinko contact as a vCard (CRLF, folded at 75 octets, one UID, FN present).

    ``read``: the shadow already read by ``from_vcard`` (``ParsedCard.read``), not read again.

    UID: ``uid`` if given, else the shadow's UID, else the one derived from ``contact["id"]``
    (see ``identity.derive_uid``); ``MappingError`` if there is none of these.
    """
    if version not in SERVED_VERSIONS:
        raise MappingError(f"cannot write vCard {version!r}: choose 3.0 or 4.0")
    normal = normalize(contact)
    card, units = read if read is not None else _read_shadow(shadow, version)
    chosen_uid = uid or card_uid(card) or derive_uid(contact)
    if not chosen_uid:
        raise MappingError(
            "cannot choose a UID: no uid given, the shadow card has none and the contact no id"
        )
    plan = Plan(card, version, fresh=shadow is None)
    by_rule = units_by_rule(units)
    unknown = _unknown_fields(contact, normal)
    for rule in RULES:
        if rule.field not in unknown:
            plan.merge(rule, rule.project(normal, version), list(by_rule.get(rule, ())))
    header = plan.identity(chosen_uid, contact.get("lastModifiedTime"), fresh=shadow is None)
    return join_card(["BEGIN:VCARD", *header, *plan.body(), "END:VCARD"])


def _read_shadow(shadow: str | None, version: str) -> ShadowRead:
    if shadow is None:
        return Card(version, ()), []
    try:
        card = as_modern(read_card(decode_input(shadow, _TRUSTED), _TRUSTED))
    except MappingError as exc:
        raise MappingError(f"the shadow card is not a usable vCard: {exc}") from None
    return card, decode_units(card, _TRUSTED)


def _unknown_fields(contact: Mapping[str, Any], normal: Mapping[str, Any]) -> set[str]:
    """Fields the contact does not carry although it has them: a sync page says ``hasPhoto``
    without the photo. The shadow's lines for them are left alone."""
    return {"photo"} if contact.get("hasPhoto") is True and "photo" not in normal else set()


@dataclass
class Entry:
    """One value to write; ``unit`` is the shadow line it keeps or rewrites."""

    value: Any
    unit: Unit | None = None
    exact: bool = False


class Plan:
    """Edits to the shadow's lines: replacements, insertions before/after a line, a tail."""

    def __init__(self, card: Card, version: str, *, fresh: bool = False) -> None:
        self.card = card
        self.version = version
        self.same_version = card.version == version
        # The client's own card in the served version: what it does without stays absent.
        self.as_sent = self.same_version and not fresh and card.converted_from is None
        self.alternates = alternates(card) if version == "3.0" else frozenset()
        self.ctx = Context(version, _TRUSTED)
        self.replaced: dict[int, list[ContentLine]] = {}
        self.before: defaultdict[int, list[ContentLine]] = defaultdict(list)
        self.after: defaultdict[int, list[ContentLine]] = defaultdict(list)
        self.tail: list[ContentLine] = []
        self.groups = GroupNames(card)

    # --- one rule ----------------------------------------------------------------------------

    def merge(self, rule: Rule, desired: list[Any], units: list[Unit]) -> None:
        if not desired and not units:  # most rules: nothing to write, no line to keep or drop
            return
        if desired == [None] and not units and self.as_sent and rule.kept_absent:
            return  # an empty 3.0 N:;;;; the client's own 3.0 card does without
        entries = _match(rule, desired, units)
        used = {id(entry.unit) for entry in entries if entry.unit is not None}
        # A scalar line that is there but empty (Apple's "N:;;;;") stays when nothing replaces it.
        dropped = [u for u in units if id(u) not in used and (rule.repeated or u.value is not None)]
        positions = [entry.unit.index for entry in entries if entry.unit is not None]
        if positions == sorted(positions):
            self._in_place(rule, entries, dropped)
        else:  # the contact reordered the values: write them as one block, in its order
            self._as_block(rule, entries, dropped)

    def _in_place(self, rule: Rule, entries: list[Entry], dropped: list[Unit]) -> None:
        pending: list[ContentLine] = []
        anchor: int | None = None
        for entry in entries:
            lines = self._emit(rule, entry)
            if entry.unit is None:
                (self.after[anchor] if anchor is not None else pending).extend(lines or ())
                continue
            if lines is not None:
                self._replace(entry.unit, lines)
            self.before[entry.unit.index].extend(pending)
            pending = []
            anchor = _last_line(entry.unit, kept=lines is None)
        for unit in dropped:
            self._drop(unit)
        if pending and dropped:
            self.before[min(unit.index for unit in dropped)].extend(pending)
        else:
            self.tail.extend(pending)

    def _as_block(self, rule: Rule, entries: list[Entry], dropped: list[Unit]) -> None:
        involved = [entry.unit for entry in entries if entry.unit is not None] + dropped
        block: list[ContentLine] = []
        for entry in entries:
            lines = self._emit(rule, entry)
            if entry.unit is not None:
                if lines is None:
                    lines = [self.card.lines[i] for i in entry.unit.owned_lines]
                self._delete(*entry.unit.owned_lines)
            block.extend(lines or ())
        for unit in dropped:
            self._drop(unit)
        self.before[min(unit.index for unit in involved)].extend(block)

    def _emit(self, rule: Rule, entry: Entry) -> list[ContentLine] | None:
        """The lines for one value; ``None`` keeps the shadow's lines as they are."""
        if entry.unit is None:
            return self._fresh(rule, entry.value)
        if entry.exact and self.same_version:
            return None
        return self._rewrite(rule, entry.unit, entry.value)

    def _fresh(self, rule: Rule, value: Any, group: str | None = None) -> list[ContentLine]:
        rendered = rule.render(value, self.version)
        if rendered.label is None:
            return [rendered.line.changed(group=group)]
        group = self.groups.new()
        return [rendered.line.changed(group=group), _label_line(group, rendered.label)]

    def _rewrite(self, rule: Rule, unit: Unit, value: Any) -> list[ContentLine]:
        base = self.card.lines[unit.index]
        rendered = rule.render(value, self.version, base)
        fresh = rendered.line
        if self.same_version:  # same type: the line's own TYPE values and label still say it
            params = _same_version_params(base, fresh, rule)
            main = ContentLine(base.name, fresh.value, params, base.group)
            label = self.card.lines[unit.label] if unit.label is not None else None
            lines = self._labelled(main, label)
            if self._reads_back(rule, lines, unit, value):
                return lines
        else:
            for lines in self._converted(rule, unit, base, rendered):
                if self._reads_back(rule, lines, unit, value):
                    return lines
        return self._fresh(rule, value, base.group if rendered.label is None else None)

    def _converted(
        self, rule: Rule, unit: Unit, base: ContentLine, rendered: Rendered
    ) -> Iterator[list[ContentLine]]:
        """A line rewritten in the other version, keeping every TYPE value of the client's
        (``_carried_params``, which translates the type's spelling): first those alone, then
        with the type's spelling in this version added, for when they no longer say it (a
        3.0 label that 4.0 writes as TYPE values)."""
        fresh = rendered.line
        # Outlook's X-MS-TEL and X-MS-SPOUSE are valid in any version: only a version's own
        # spelling of the property (X-ABRELATEDNAMES, RELATED) is translated.
        spellings = {rule.render_name(v) for v in SERVED_VERSIONS}
        name = fresh.name if base.key in spellings else base.name
        label = _label_line(base.group, rendered.label) if rendered.label else None
        carried = _carried_params(base, rule, self.card.version, unit.value, self.version)
        types = [p for p in carried if p.effective_key == "TYPE"]
        own = [p for p in fresh.params if rule.types is None or p.effective_key != "TYPE"]
        others = [p for p in carried if p.effective_key != "TYPE"]
        # Last, the TYPE values that contradict the type go (a 4.0 WORK beside a label that
        # says other): the line still keeps its group and every other parameter.
        vocabulary = rule.types.vocabulary - rule.types.carried if rule.types else frozenset()
        agreeing = [_without_tokens(p, vocabulary) for p in carried]
        for params in (
            [*types, *own, *others],
            [*fresh.params, *carried],
            [*fresh.params, *agreeing],
        ):
            main = ContentLine(name, fresh.value, _merge_types(params), base.group)
            yield self._labelled(main, label)

    def _labelled(self, main: ContentLine, label: ContentLine | None) -> list[ContentLine]:
        if label is not None and main.group is None:
            group = self.groups.new()
            main, label = main.changed(group=group), label.changed(group=group)
        return [main] if label is None else [main, label]

    def _reads_back(self, rule: Rule, lines: list[ContentLine], unit: Unit, value: Any) -> bool:
        main, label = lines[0], (lines[1] if len(lines) > 1 else None)
        label_text = None
        if label is not None:
            label_text = text_value(label, self.version)
        elif main.group is not None:  # an unowned label of the group is still read
            for index in unit.attached:
                if self.card.lines[index].key == LABEL_PROPERTY:
                    label_text = text_value(self.card.lines[index], self.card.version)
                    break
        return rule.same(line_value(rule, main, label_text, self.ctx), value)

    def _replace(self, unit: Unit, lines: list[ContentLine]) -> None:
        self.replaced[unit.index] = lines
        if unit.label is not None:
            self._delete(unit.label)

    def _drop(self, unit: Unit) -> None:
        self._delete(*unit.owned_lines, *unit.attached)

    def _delete(self, *indexes: int) -> None:
        for index in indexes:
            self.replaced[index] = []

    # --- the card as a whole -----------------------------------------------------------------

    def identity(self, uid: str, modified: Any, *, fresh: bool) -> list[str]:
        """VERSION (right after BEGIN), PRODID for a new card, one UID, REV; the header lines."""
        header = [f"VERSION:{self.version}"]
        if fresh:
            header.append(f"PRODID:{PRODID}")
        self._delete(*self._top_level("VERSION"))
        uids = self._top_level("UID")
        uid_line = ContentLine("UID", escape_text(uid))
        if not uids:
            header.append(uid_line.text())
        elif card_uid(self.card) != uid or self.card.lines[uids[0]].group:
            self.replaced[uids[0]] = [uid_line]  # vobject cannot serialize a grouped UID
        self._delete(*uids[1:])
        rev = render_rev(modified, self.version) if isinstance(modified, str) else None
        if rev is not None:
            revs = self._top_level("REV")
            self._delete(*revs)
            if revs:
                self.replaced[revs[0]] = [ContentLine("REV", rev)]
            else:
                self.tail.append(ContentLine("REV", rev))
        return header

    def _top_level(self, name: str) -> list[int]:
        return [
            index
            for index, line in enumerate(self.card.lines)
            if line.key == name and index not in self.card.nested
        ]

    def body(self) -> list[str]:
        out: list[ContentLine] = []
        for index, line in enumerate(self.card.lines):
            out.extend(self.before.get(index, ()))
            out.extend(self.replaced.get(index, (self._kept(index, line),)))
            out.extend(self.after.get(index, ()))
        out.extend(self.tail)
        return [line.text() for line in out]

    def _kept(self, index: int, line: ContentLine) -> ContentLine:
        """A line the table does not own, in the served version: the card's 2.1 syntax is
        converted already (``as_modern``); between 3.0 and 4.0 only the properties one version
        lacks and ALTID alternatives change (``convert.unmapped_in``)."""
        if self.same_version or index in self.card.nested:
            return line
        line = unmapped_in(line, self.version, alternate=index in self.alternates)
        if self.card.converted_from == "2.1" and self.version == "4.0":
            line = line.changed(params=_pref_for(self.version, line.params))
        return line


def _match(rule: Rule, desired: list[Any], units: list[Unit]) -> list[Entry]:
    """Pair each value with the shadow line that says it, else with a line of its kind."""
    entries = [Entry(value) for value in desired]
    free = list(units)
    for entry in entries:
        unit = next((u for u in free if rule.same(u.value, entry.value)), None)
        if unit is not None:
            free.remove(unit)
            entry.unit, entry.exact = unit, True
    for entry in entries:
        if entry.unit is None:
            key = rule.pair_key(entry.value)
            unit = next((u for u in free if rule.pair_key(u.value) == key), None)
            if unit is not None:
                free.remove(unit)
                entry.unit = unit
    return entries


def _last_line(unit: Unit, *, kept: bool) -> int:
    """Where lines that follow a unit go: after its label when that sits right below it."""
    if kept and unit.label == unit.index + 1:
        return unit.label
    return unit.index


def _label_line(group: str | None, label: str) -> ContentLine:
    return ContentLine("X-ABLabel", escape_text(label), group=group)


def _same_version_params(base: ContentLine, fresh: ContentLine, rule: Rule) -> tuple[Param, ...]:
    """The line's own parameters, with the ones the rule computes taken from ``fresh``; a
    typed rule keeps the line's TYPE values (the type did not change)."""
    typed = rule.types is not None

    def computed(param: Param) -> bool:
        key = param.effective_key
        return key in rule.owned and not (typed and key == "TYPE")

    kept = [_named(param) for param in base.params if not computed(param)]
    added = [param for param in fresh.params if not (typed and param.effective_key == "TYPE")]
    return (*kept, *added)


def _named(param: Param) -> Param:
    """A 2.1 bare parameter (``WORK``) with the name it stands for (``TYPE=WORK``)."""
    return param if param.name is not None else Param(param.effective_key, param.values)


def _carried_params(
    base: ContentLine, rule: Rule, source: str, value: Any, version: str
) -> list[Param]:
    """The client's parameters of ``base`` (a ``source`` line) in ``version``'s spelling.

    Every TYPE value is kept, the table's own words in ``version``'s case. When the line
    spells its type as ``source`` does (``X-TTY``, ``OTHER,FAX``, ``INTERNET,WORK``), that
    spelling becomes ``version``'s (``textphone``, ``fax``, ``work``); a type the line says
    in another way (``IPHONE``, an untyped phone) is left as the client wrote it. Defaults the
    table does not carry (EMAIL's INTERNET) go, ``TYPE=PREF`` (3.0) <-> ``PREF=1`` (4.0), and
    every parameter the rule does not compute is carried."""
    table = rule.types
    tokens: list[str] = []
    pref: str | None = None
    out: list[Param] = []
    for param in base.params:
        key = param.effective_key
        if key == "TYPE" and table is None and "TYPE" in rule.owned:
            continue  # PHOTO's TYPE is its media type, which the rule writes itself
        if key == "TYPE":
            for token in _split_tokens(param.values):
                if token.upper() == "PREF":
                    pref = pref or "1"
                else:
                    tokens.append(token)
        elif key == "PREF":
            pref = param.values[0] if param.values else "1"
        elif key not in rule.owned:
            out.append(Param(param.name or key, param.values))
    if table is not None:
        tokens = _translated(table, tokens, value, source, version)
    if pref is not None:
        if version == "4.0":
            out.append(Param("PREF", (pref,)))
        else:
            tokens.append("PREF")
    return [Param("TYPE", tuple(tokens)), *out] if tokens else out


def _translated(
    table: TypeTable, tokens: list[str], value: Any, source: str, version: str
) -> list[str]:
    def case(token: str) -> str:
        return token.lower() if version == "4.0" else token.upper()

    dropped = table.ignored - table.carried  # INTERNET: a default, spelled again if needed
    kept = [case(t) if t.upper() in table.vocabulary else t for t in tokens]
    kept = [t for t in kept if t.upper() not in dropped]
    kind = value.get("type") if isinstance(value, dict) else None
    spelled = {t.upper() for t in table.spell(kind, source).tokens} - table.carried
    present = {t.upper() for t in kept}
    if (spelled or kind is None) and spelled <= present:
        target = [case(t) for t in table.spell(kind, version).tokens]
        covered = spelled | {t.upper() for t in target}
        kept = target + [t for t in kept if t.upper() not in covered]
    return kept


def _without_tokens(param: Param, tokens: frozenset[str]) -> Param:
    if param.effective_key != "TYPE":
        return param
    return Param("TYPE", tuple(t for t in param.values if t.upper() not in tokens))


def _split_tokens(values: Iterable[str]) -> list[str]:
    return [token.strip() for value in values for token in value.split(",") if token.strip()]


def _merge_types(params: list[Param]) -> tuple[Param, ...]:
    """One TYPE parameter holding every TYPE value, where the first one was."""
    tokens = [t for p in params if p.effective_key == "TYPE" for t in _split_tokens(p.values)]
    out: list[Param] = []
    for param in params:
        if param.effective_key != "TYPE":
            out.append(param)
        elif tokens:
            unique: dict[str, str] = {}  # TYPE values are case-insensitive: the first spelling
            for token in tokens:
                unique.setdefault(token.upper(), token)
            out.append(Param("TYPE", tuple(unique.values())))
            tokens = []
    return tuple(out)


def _pref_for(version: str, params: tuple[Param, ...]) -> tuple[Param, ...]:
    """vCard 4.0 has a PREF parameter where 2.1 and 3.0 have a PREF type."""
    if version != "4.0":
        return params
    out: list[Param] = []
    pref = False
    for param in params:
        if param.effective_key != "TYPE":
            out.append(param)
            continue
        tokens = _split_tokens(param.values)
        pref = pref or any(token.upper() == "PREF" for token in tokens)
        kept = tuple(token for token in tokens if token.upper() != "PREF")
        if kept:
            out.append(Param("TYPE", kept))
    return (*out, Param("PREF", ("1",))) if pref else tuple(out)


class GroupNames:
    """New ``itemN`` group names that no line of the shadow uses."""

    _ITEM = re.compile(r"item(\d+)", re.IGNORECASE)

    def __init__(self, card: Card) -> None:
        self.used = {line.group_key for line in card.lines if line.group_key}
        numbers = [int(m[1]) for g in self.used if (m := self._ITEM.fullmatch(g or ""))]
        self.next = max(numbers, default=0) + 1

    def new(self) -> str:
        while f"item{self.next}" in self.used:
            self.next += 1
        name = f"item{self.next}"
        self.used.add(name)
        return name
