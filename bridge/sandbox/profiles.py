"""Provider profiles: what the account behind Aurinko keeps of a contact, as a table.

``generic`` is the sandbox as it always was: it keeps whatever the contract allows. The
others model the provider a real Aurinko account sits on (see docs/aurinko-contract-notes.md
for sources and for what is inference):

- ``office365`` (Microsoft Graph ``contact``): at most 3 email addresses, which carry no
  type; phones only in Graph's slots (``businessPhones`` 2, ``homePhones`` 2,
  ``mobilePhone`` 1, i.e. Aurinko types work/home/mobile); one postal address and one
  relation per type; a birthday needs a year (Graph's is a full dateTime).
- ``google`` (People API): etags in Google's opaque form (``%...=``); a birthday is a
  calendar date, with or without a year (``google.type.Date``); each text value at most
  1024 characters (our guess, see the notes).

Both real providers drop what they do not model: unknown top-level keys are not kept, and an
empty string, list or object is no value at all (stored as a removal). ``ProfileConfig`` adds
the switches that apply to any profile, all off by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from bridge.sandbox.refusals import RefusalStyle

EtagStyle = Literal["token", "google"]
WriteAnswer = Literal["record", "id-etag", "id"]
WRITE_ANSWERS: tuple[WriteAnswer, ...] = ("record", "id-etag", "id")


@dataclass(frozen=True)
class ProviderRules:
    """One provider's rules. ``None`` (or empty) means "no limit" for each rule.

    ``slots`` maps a list field to {type: how many of that type the provider keeps}; an item
    whose type is not a key (or that has none) does not fit, nor does one beyond the count.
    """

    max_items: Mapping[str, int] = field(default_factory=dict)
    untyped: frozenset[str] = frozenset()  # list fields whose items lose their ``type``
    slots: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    birthday_needs_year: bool = False
    keep_unknown_keys: bool = True
    empty_is_absent: bool = False
    etag_style: EtagStyle = "token"
    birthday_is_date: bool = False  # a valid YYYY-MM-DD or --MM-DD (google.type.Date)
    max_text_length: int | None = None  # characters in any one text value of a field
    refusals: RefusalStyle = "aurinko"  # whose words a 400 is in (see refusals.py)


def _frozen(table: dict[str, dict[str, int]]) -> Mapping[str, Mapping[str, int]]:
    return MappingProxyType({key: MappingProxyType(value) for key, value in table.items()})


# Graph contact: businessPhones (2 in Outlook), homePhones (2), mobilePhone; homeAddress,
# businessAddress, otherAddress; manager, assistantName, spouseName.
_OFFICE365_SLOTS = {
    "phoneNumbers": {"work": 2, "home": 2, "mobile": 1},
    "addresses": {"home": 1, "work": 1, "other": 1},
    "relations": {"manager": 1, "assistant": 1, "spouse": 1},
}

PROFILES: Mapping[str, ProviderRules] = MappingProxyType(
    {
        "generic": ProviderRules(),
        "office365": ProviderRules(
            max_items=MappingProxyType({"emailAddresses": 3}),
            untyped=frozenset({"emailAddresses"}),
            slots=_frozen(_OFFICE365_SLOTS),
            birthday_needs_year=True,
            keep_unknown_keys=False,
            empty_is_absent=True,
            refusals="graph",
        ),
        # People API birthdays are dates, with or without a year (google.type.Date: "Day of
        # a month. Must be from 1 to 31 and valid for the year and month"). 1024 characters
        # a value: our guess, from a third party's list of Google Contacts' limits.
        "google": ProviderRules(
            keep_unknown_keys=False,
            empty_is_absent=True,
            etag_style="google",
            birthday_is_date=True,
            max_text_length=1024,
            refusals="google",
        ),
    }
)


@dataclass(frozen=True)
class ProfileConfig:
    """The provider profile and the switches that apply to any profile (all off by default).

    - ``weak_etags``: etags are answered as ``W/"..."``; If-Match accepts that form too.
    - ``write_answer``: what POST and PATCH answer: ``record`` (``{id, etag, record}``),
      ``id-etag`` (``{id, etag}``) or ``id`` (``{id}``).
    - ``strict_body``: unknown top-level keys, a top-level ``null`` (the vendor's schema marks
      nothing nullable, and a service validating against it would refuse one), and a body
      that sets nothing (``{}``, or only read-only fields) answer 400 instead of being
      dropped or accepted.
    - ``null_ignored``: a PATCH's ``null`` means "absent", i.e. unchanged (what a service
      reading bodies into plain objects does: the vendor's Java client omits nulls).
    - ``empty_unchanged``: a PATCH's empty value (``""``, ``[]``, ``{}``, a name or company
      member ``""``, a photo without content) leaves the field as it was.
    - ``photo_ignored``: POST and PATCH ignore ``photo`` (setting and removing alike), as
      Aurinko may: Graph and Google set photos through endpoints of their own.

    A 429 without ``Retry-After`` is a fault setting: ``FaultConfig(retry_after=None)``.
    """

    name: str = "generic"
    weak_etags: bool = False
    write_answer: WriteAnswer = "record"
    strict_body: bool = False
    null_ignored: bool = False
    empty_unchanged: bool = False
    photo_ignored: bool = False

    def __post_init__(self) -> None:
        if self.name not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {self.name!r}")
        if self.write_answer not in WRITE_ANSWERS:
            raise ValueError(
                f"write_answer must be one of {', '.join(WRITE_ANSWERS)}, got {self.write_answer!r}"
            )

    @property
    def rules(self) -> ProviderRules:
        return PROFILES[self.name]


def profile_config_from_json(data: object) -> ProfileConfig:
    """A ``ProfileConfig`` from JSON (dataclass field names; absent keys take defaults).

    Raises ``ValueError`` naming the offending key.
    """
    if not isinstance(data, dict):
        raise ValueError("profile settings must be a JSON object")
    unknown = sorted(set(data) - set(ProfileConfig.__dataclass_fields__))
    if unknown:
        raise ValueError(f"unknown profile setting(s): {', '.join(unknown)}")
    for key in ("weak_etags", "strict_body", "null_ignored", "empty_unchanged", "photo_ignored"):
        if key in data and not isinstance(data[key], bool):
            raise ValueError(f"{key} must be true or false")
    for key in ("name", "write_answer"):
        if key in data and not isinstance(data[key], str):
            raise ValueError(f"{key} must be a string")
    return ProfileConfig(**data)


class ProfileState:
    """The current ``ProfileConfig``; swapped whole, so a request sees one consistent set."""

    def __init__(self, config: ProfileConfig) -> None:
        self.config = config
