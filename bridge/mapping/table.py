"""THE mapping: vCard properties <-> Aurinko contact fields, as data.

``RULES`` lists every property the mapping owns, in the order a new card is written; the type
tables say how each Aurinko ``type`` is spelled per version and what reads as it. Anything a
card holds that is not in this file is kept only in the shadow card and written back as the
client sent it. ``bridge/mapping/MAPPING.md`` is the same table for people; keep them together.

Spellings follow the clients that use them: Apple and Google for 3.0 (``X-ABLabel`` labels such
as ``_$!<HomePage>!$_``, ``X-APPLE-OMIT-YEAR``), DAVx5 for 4.0 (``x-assistant``, ``x-blog``,
``RELATED;TYPE=manager``), RFC 6350 where it has a word (``textphone``).
"""

from __future__ import annotations

from .rules import (
    AddressCodec,
    BirthdayRule,
    EmailCodec,
    ItemRule,
    KeywordsRule,
    PhoneCodec,
    PhotoMetaRule,
    PhotoRule,
    RelationCodec,
    Rule,
    StructuredRule,
    TextRule,
    UrlCodec,
)
from .typetable import Spelling, TypeForm, TypeTable, form

# Aurinko type, 3.0 spelling, 4.0 spelling, TYPE combinations read as it, labels read as it.
# Reading picks the largest combination contained in the line's TYPE values (VOICE and PREF
# ignored), so WORK,FAX is a work fax and WORK,CELL a work mobile; ties go to the earlier row.
PHONE_TYPES = TypeTable(
    (
        form("workFax", "WORK,FAX", "work,fax", ["WORK,FAX"], ["_$!<WorkFAX>!$_"]),
        form("homeFax", "HOME,FAX", "home,fax", ["HOME,FAX"], ["_$!<HomeFAX>!$_"]),
        form("otherFax", "OTHER,FAX", "fax", ["FAX", "OTHER,FAX"], ["_$!<OtherFAX>!$_"]),
        form("workPager", "WORK,PAGER", "work,pager", ["WORK,PAGER"]),
        form("pager", "PAGER", "pager", ["PAGER"], ["_$!<Pager>!$_"]),
        form("workMobile", "WORK,CELL,VOICE", "work,cell,voice", ["WORK,CELL"]),
        form("mobile", "CELL,VOICE", "cell,voice", ["CELL", "IPHONE"], ["_$!<Mobile>!$_"]),
        form("main", "MAIN", "main", ["MAIN"], ["_$!<Main>!$_"]),
        form(
            "companyMain",
            "X-COMPANY_MAIN",
            "x-company_main",
            ["X-COMPANY_MAIN", "X-COMPANY-MAIN", "COMPANY-MAIN", "COMPANY"],  # Outlook X-MS-TEL
        ),
        form(
            "assistant",
            "X-ASSISTANT",
            "x-assistant",
            ["X-ASSISTANT", "ASSISTANT"],
            ["_$!<Assistant>!$_"],
        ),
        form("callback", "X-CALLBACK", "x-callback", ["X-CALLBACK", "CALLBACK"]),
        form("radio", "X-RADIO", "x-radio", ["X-RADIO", "RADIO"]),
        form("telex", "X-TELEX", "x-telex", ["X-TELEX", "TELEX", "TLX"]),
        form(
            "tty",
            "X-TTY",
            "textphone",
            ["TEXTPHONE", "X-TTY", "TTY", "TTY-TDD", "X-TTY-TDD", "TTYTDD"],
        ),
        form("work", "WORK,VOICE", "work,voice", ["WORK"], ["_$!<Work>!$_"]),
        form("home", "HOME,VOICE", "home,voice", ["HOME"], ["_$!<Home>!$_"]),
        form("other", "OTHER,VOICE", "voice", ["OTHER"], ["_$!<Other>!$_"]),
    ),
    ignored=frozenset({"PREF", "VOICE"}),
    carried=frozenset({"VOICE"}),
    default="other",  # untyped or unknown (CAR, ISDN, MSG, VIDEO...): Outlook / DavMail rule
)

# Email types are free strings: work/home/other are TYPE values, anything else an X-ABLabel.
EMAIL_TYPES = TypeTable(
    (
        form("work", "INTERNET,WORK", "work", ["WORK"], ["_$!<Work>!$_"]),
        form("home", "INTERNET,HOME", "home", ["HOME"], ["_$!<Home>!$_"]),
        form("other", "INTERNET,OTHER", "other", ["OTHER"], ["_$!<Other>!$_"]),
    ),
    ignored=frozenset({"PREF", "INTERNET", "X400"}),
    carried=frozenset({"X400"}),  # INTERNET is not: the 3.0 spelling writes it, 4.0 has none
    untyped=(Spelling(("INTERNET",)), Spelling()),
    free_labels=True,
)

ADDRESS_TYPES = TypeTable(
    (
        form("work", "WORK", "work", ["WORK"], ["_$!<Work>!$_"]),
        form("home", "HOME", "home", ["HOME"], ["_$!<Home>!$_"]),
        form("other", "OTHER", "other", ["OTHER"], ["_$!<Other>!$_"]),
    ),
    ignored=frozenset({"PREF", "DOM", "INTL", "POSTAL", "PARCEL"}),
    carried=frozenset({"DOM", "INTL", "POSTAL", "PARCEL"}),
)

URL_TYPES = TypeTable(
    (
        form("homePage", "label:_$!<HomePage>!$_", "x-homepage", ["X-HOMEPAGE", "HOMEPAGE"]),
        form("blog", "label:BLOG", "x-blog", ["X-BLOG", "BLOG"], ["_$!<Blog>!$_"]),
        form("profile", "label:PROFILE", "x-profile", ["X-PROFILE", "PROFILE"]),
        form("ftp", "label:FTP", "x-ftp", ["X-FTP", "FTP"]),
        form("reservations", "label:RESERVATIONS", "x-reservations", ["X-RESERVATIONS"]),
        form("work", "WORK", "work", ["WORK"], ["_$!<Work>!$_"]),
        form("home", "HOME", "home", ["HOME"], ["_$!<Home>!$_"]),
        form("other", "OTHER", "other", ["OTHER"], ["_$!<Other>!$_"]),
    ),
)


def _apple_relation(value: str, label: str) -> TypeForm:
    return form(value, f"label:_$!<{label}>!$_", value, [value])


# Only the contract's three relation types: Aurinko refuses any other. A relation labelled
# otherwise (Apple's _$!<Child>!$_, Google's REFERRED_BY) still reaches Aurinko, untyped,
# and its line keeps the label in the shadow, because the line reads back as that same
# untyped relation.
RELATION_TYPES = TypeTable(
    tuple(
        _apple_relation(value, label)
        for value, label in (
            ("spouse", "Spouse"),
            ("manager", "Manager"),
            ("assistant", "Assistant"),
        )
    ),
)

N_KEYS = ("familyName", "givenName", "middleName", "prefix", "suffix")

RULES: tuple[Rule, ...] = (
    TextRule("FN", ("name", "displayName"), always=True),
    StructuredRule("N", "name", N_KEYS, always_in=("3.0",)),  # N is mandatory in 3.0 only
    TextRule("X-PHONETIC-FIRST-NAME", ("name", "yomiGivenName")),
    TextRule("X-PHONETIC-LAST-NAME", ("name", "yomiFamilyName")),
    TextRule("NICKNAME", ("nickName",), joiner=", "),
    TextRule("X-EVOLUTION-FILE-AS", ("fileAs",)),
    StructuredRule("ORG", "company", ("name", "department"), trim=True),
    TextRule("TITLE", ("company", "jobTitle")),
    TextRule("X-EVOLUTION-OFFICE", ("company", "officeLocation")),
    TextRule("X-PHONETIC-ORG", ("company", "yomiCompanyName")),
    ItemRule("emailAddresses", ("EMAIL",), EmailCodec(), EMAIL_TYPES),
    ItemRule("phoneNumbers", ("TEL", "X-MS-TEL"), PhoneCodec(), PHONE_TYPES),
    ItemRule("addresses", ("ADR",), AddressCodec(), ADDRESS_TYPES),
    ItemRule("urls", ("URL",), UrlCodec(), URL_TYPES),
    BirthdayRule(),
    ItemRule(
        "relations",
        ("X-ABRELATEDNAMES", "RELATED", "X-MS-SPOUSE", "X-MS-MANAGER", "X-MS-ASSISTANT"),
        RelationCodec(),
        RELATION_TYPES,
    ),
    KeywordsRule(),
    TextRule("NOTE", ("notes",)),
    PhotoRule(),
    PhotoMetaRule(),
)

RULE_BY_PROPERTY = {name: rule for rule in RULES for name in rule.names}
LABEL_PROPERTY = "X-ABLABEL"
