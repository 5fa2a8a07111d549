"""Aurinko ``type`` values <-> vCard TYPE parameters and Apple ``X-ABLabel`` labels.

A ``TypeTable`` is data: one ``TypeForm`` per Aurinko type says how it is written in each
version and which TYPE combinations and labels read as it. Reading picks the most specific
combination contained in the line's TYPE values, so ``WORK,FAX`` is a work fax, never a work
voice number ("fax before voice"), whatever order the client wrote them in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Spelling:
    """How one type is written: TYPE values, and an ``X-ABLabel`` in the property's group."""

    tokens: tuple[str, ...] = ()
    label: str | None = None


@dataclass(frozen=True)
class TypeForm:
    value: str
    v3: Spelling
    v4: Spelling
    reads: tuple[frozenset[str], ...] = ()
    labels: tuple[str, ...] = ()


def form(
    value: str,
    v3: str | Spelling,
    v4: str | Spelling,
    reads: Iterable[str] = (),
    labels: Iterable[str] = (),
) -> TypeForm:
    """Shorthand: ``"WORK,FAX"`` is a spelling / a TYPE combination, ``"label:X"`` a label."""
    return TypeForm(
        value,
        _spelling(v3),
        _spelling(v4),
        tuple(frozenset(token.upper() for token in combo.split(",")) for combo in reads),
        tuple(labels),
    )


def _spelling(text: str | Spelling) -> Spelling:
    if isinstance(text, Spelling):
        return text
    if text.startswith("label:"):
        return Spelling(label=text.removeprefix("label:"))
    return Spelling(tuple(token for token in text.split(",") if token))


_FREE_TOKEN = re.compile(r"[a-z][a-z0-9-]*")


@dataclass(frozen=True)
class TypeTable:
    """The types of one kind of item (phones, emails, ...).

    ``ignored``: TYPE values that never decide the type (``PREF``, ``VOICE`` for phones).
    ``untyped``: the spelling of an item without a type, per version.
    ``default``: the type of a line nothing matches (``other`` for phones), else ``None``.
    ``free_labels``: an unknown label is itself the type (emails: the type is a free string).
    ``free_tokens``: in 4.0 an unknown lower-case TYPE value is the type (RELATED).
    ``carried``: ignored TYPE values that still say something (ADR's ``PARCEL``, a phone's
    ``VOICE``): kept when a line is rewritten in another version, not dropped with the rest of
    the table's vocabulary.
    """

    forms: tuple[TypeForm, ...]
    ignored: frozenset[str] = frozenset({"PREF"})
    untyped: tuple[Spelling, Spelling] = (Spelling(), Spelling())
    default: str | None = None
    free_labels: bool = False
    free_tokens: bool = False
    carried: frozenset[str] = frozenset()
    _by_label: dict[str, str] = field(init=False, repr=False, compare=False)
    _by_value: dict[str, TypeForm] = field(init=False, repr=False, compare=False)
    # Derived once from ``forms``: every line read and every rewrite consults them.
    _reads: tuple[tuple[frozenset[str], TypeForm], ...] = field(
        init=False, repr=False, compare=False
    )
    _vocabulary: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_label = {label.casefold(): f.value for f in self.forms for label in f.labels}
        for f in self.forms:  # a type's own written label always reads back as that type
            for spelling in (f.v3, f.v4):
                if spelling.label:
                    by_label.setdefault(spelling.label.casefold(), f.value)
        object.__setattr__(self, "_by_label", by_label)
        object.__setattr__(self, "_by_value", {f.value: f for f in self.forms})
        reads = tuple((combo, f) for f in self.forms for combo in f.reads)
        object.__setattr__(self, "_reads", reads)
        tokens = {token for f in self.forms for combo in f.reads for token in combo}
        tokens |= {t.upper() for f in self.forms for s in (f.v3, f.v4) for t in s.tokens}
        tokens |= {t.upper() for s in self.untyped for t in s.tokens}
        object.__setattr__(self, "_vocabulary", frozenset(tokens | (self.ignored - {"PREF"})))

    @property
    def vocabulary(self) -> frozenset[str]:
        """Every TYPE value this table reads or writes (upper case): the values it owns."""
        return self._vocabulary

    def resolve(self, tokens: Sequence[str], label: str | None) -> tuple[str | None, bool]:
        """The type of a line, and whether its label decided it."""
        if label is not None:
            known = self._by_label.get(label.casefold())
            if known is not None:
                return known, True
            if self.free_labels:
                return label, True
        present = {token.upper() for token in tokens} - self.ignored
        best: TypeForm | None = None
        best_size = 0
        for combo, f in self._reads:
            if len(combo) > best_size and combo <= present:
                best, best_size = f, len(combo)
        if best is not None:
            return best.value, False
        if self.free_tokens:
            for token in tokens:
                if token.upper() not in self.ignored and token.upper() not in self.vocabulary:
                    return token.lower(), False
        return self.default, False

    def spell(self, value: str | None, version: str) -> Spelling:
        """How ``value`` is written in ``version`` (free values as labels or 4.0 TYPE values)."""
        v4 = version == "4.0"
        if value is None:
            return self.untyped[v4]
        known = self._by_value.get(value)
        if known is not None:
            return known.v4 if v4 else known.v3
        if self.free_tokens and v4 and _FREE_TOKEN.fullmatch(value) and value.upper() != "PREF":
            return Spelling((value,))
        return Spelling(self.untyped[v4].tokens, label=value)
