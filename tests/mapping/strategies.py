"""Hypothesis strategies: every contact the schema allows, and real-world-shaped vCards."""

from __future__ import annotations

import base64
import string
from typing import Any

from hypothesis import strategies as st

from bridge.mapping.contentline import escape_text
from bridge.mapping.schema import (
    ADDRESS_TYPES,
    NAME_KEYS,
    PHONE_TYPES,
    RELATION_TYPES,
    URL_TYPES,
)

# Text a vCard can carry (schema rule 2): no control characters but tab and line break, no
# lone surrogates; the tricky characters of vCard syntax are drawn often.
TRICKY = ["\n", "\t", ";", ",", "\\", ":", '"', "^", "=", " ", "é", "日本", "😀", "\\n", "\\,"]
_chars = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
text = st.lists(st.one_of(_chars, st.sampled_from(TRICKY)), min_size=1, max_size=12).map("".join)
long_text = st.text(_chars, min_size=60, max_size=240)  # forces folding, often mid-character
any_text = st.one_of(text, text, text, long_text)

# Free email types may be any text except Apple's wrapped labels, which read back
# as the type they name (documented in MAPPING.md).
free_type = any_text.filter(lambda t: not t.startswith("_$!<"))


def _obj(keys: dict[str, st.SearchStrategy[Any]], required: tuple[str, ...] = ()) -> Any:
    optional = {k: v for k, v in keys.items() if k not in required}
    return st.fixed_dictionaries({k: keys[k] for k in required}, optional=optional)


name = _obj(dict.fromkeys(NAME_KEYS, any_text))
company = _obj(
    dict.fromkeys(("name", "officeLocation", "department", "jobTitle", "yomiCompanyName"), any_text)
)
emails = st.lists(
    _obj(
        {
            "address": any_text,
            "name": any_text,
            "type": st.one_of(st.sampled_from(["work", "home", "other"]), free_type),
        },
        required=("address",),
    ),
    max_size=3,
)
phone_number = st.one_of(
    any_text,
    st.from_regex(r"\+?[0-9][0-9\-. ()]{3,14}( ext\. [0-9]{1,4})?", fullmatch=True),
    st.sampled_from(["tel:+1-555-0100", "+1 (555) 010-0000", "*31#", "+1-555;ext=1"]),
)
phones = st.lists(
    _obj({"number": phone_number, "type": st.sampled_from(PHONE_TYPES)}, required=("number",)),
    max_size=4,
)
addresses = st.lists(
    _obj(
        {
            **dict.fromkeys(
                ("street", "streetLine2", "poBox", "city", "state", "postalCode", "country"),
                any_text,
            ),
            "type": st.sampled_from(ADDRESS_TYPES),
        },
        required=("street",),
    ),
    max_size=2,
)
urls = st.lists(
    _obj({"href": any_text, "type": st.sampled_from(URL_TYPES)}, required=("href",)), max_size=3
)
relations = st.lists(
    _obj(
        {"name": any_text, "type": st.sampled_from(RELATION_TYPES)},  # the contract's enum
        required=("name",),
    ),
    max_size=3,
)
birthday = st.one_of(
    st.dates().map(lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}"),
    st.dates().map(lambda d: f"--{d.month:02d}-{d.day:02d}"),
    st.just("--02-29"),
    any_text,  # whatever a provider sends is kept (as VALUE=text)
)
content = st.binary(min_size=1, max_size=120).map(lambda b: base64.b64encode(b).decode())
media_type = st.sampled_from(["image/jpeg", "image/png", "image/gif", "image/svg+xml"])
photo = st.one_of(
    _obj(
        {"content": content, "mimeType": media_type, "id": any_text, "name": any_text},
        required=("content",),
    ),
    _obj({"mimeType": media_type, "id": any_text, "name": any_text}, required=("id",)),
)
contact = _obj(
    {
        "id": st.text(string.ascii_letters + string.digits, min_size=1, max_size=20),
        "etag": text,
        "hasPhoto": st.booleans(),
        "name": name,
        "nickName": any_text,
        "fileAs": any_text,
        "company": company,
        "relations": relations,
        "birthday": birthday,
        "keywords": st.lists(any_text, max_size=4),
        "notes": any_text,
        "emailAddresses": emails,
        "phoneNumbers": phones,
        "addresses": addresses,
        "urls": urls,
        "photo": photo,
    },
    required=("id",),
)

# --- generated vCards ----------------------------------------------------------------------

_word = st.text(string.ascii_letters + string.digits, min_size=1, max_size=8)
_value_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40
).map(escape_text)


@st.composite
def vcard_lines(draw: st.DrawFn, version: str) -> list[str]:
    """The body of a card: mapped properties in client spellings, with the client's own
    parameters and groups, unknown properties, and the cases vobject mangles."""
    v4 = version == "4.0"
    pref = "PREF=1" if v4 else "TYPE=pref"
    foreign = st.sampled_from(["", ";X-FOO=bar", ";LANGUAGE=en", f";{pref}", ';X-Q="a,b:c"'])
    groups = iter(f"item{n}" for n in range(1, 100))
    lines: list[str] = [f"FN:{draw(_value_text)}"] if draw(st.booleans()) else []

    def add(name: str, params: str, value: str, label: str | None = None) -> None:
        grouped = label is not None or draw(st.integers(0, 4)) == 0
        if not grouped:
            lines.append(f"{name}{params}{draw(foreign)}:{value}")
            return
        group = next(groups)
        lines.append(f"{group}.{name}{params}{draw(foreign)}:{value}")
        if label is not None:
            lines.append(f"{group}.X-ABLabel:{label}")
        if draw(st.booleans()):
            lines.append(f"{group}.X-ABADR:{draw(_word)}")

    if draw(st.booleans()):
        add("N", "", ";".join(draw(st.lists(_value_text | st.just(""), min_size=5, max_size=5))))
    if draw(st.booleans()):
        add("NICKNAME", "", ",".join(draw(st.lists(_value_text, min_size=1, max_size=3))))
    if draw(st.booleans()):
        add("ORG", "", ";".join(draw(st.lists(_value_text, min_size=1, max_size=3))))
    for name in draw(
        st.lists(st.sampled_from(["TITLE", "NOTE", "X-PHONETIC-FIRST-NAME"]), max_size=3)
    ):
        add(name, "", draw(_value_text))
    email_types = ["", ";TYPE=INTERNET", ";TYPE=WORK", ";TYPE=HOME,INTERNET", ";TYPE=OTHER"]
    for _ in range(draw(st.integers(0, 3))):
        label = draw(st.none() | _word | st.just("_$!<Other>!$_"))
        add("EMAIL", draw(st.sampled_from(email_types)), draw(_value_text), label)
    tel_types = [
        "",
        ";TYPE=CELL",
        ";TYPE=WORK,FAX",
        ";TYPE=FAX;TYPE=HOME",
        ";TYPE=CAR",
        ";TYPE=x-radio",
        ";TYPE=PAGER,WORK",
        ";TYPE=textphone",
        ";TYPE=MAIN",
        ";TYPE=VOICE",
    ]
    for _ in range(draw(st.integers(0, 4))):
        label = draw(st.none() | st.just("GRAND_CENTRAL") | st.just("_$!<Mobile>!$_"))
        number = draw(st.from_regex(r"\+?[0-9][0-9 \-]{3,12}", fullmatch=True))
        if v4 and draw(st.booleans()):
            add(
                "TEL",
                ";VALUE=uri" + draw(st.sampled_from(tel_types)),
                f"tel:{number.replace(' ', '-')};ext=7",
                label,
            )
        else:
            add("TEL", draw(st.sampled_from(tel_types)), number, label)
    for _ in range(draw(st.integers(0, 2))):
        parts = draw(st.lists(_value_text | st.just(""), min_size=7, max_size=7))
        if any(parts):
            add(
                "ADR",
                draw(st.sampled_from(["", ";TYPE=HOME", ";TYPE=WORK,POSTAL"])),
                ";".join(parts),
            )
    for _ in range(draw(st.integers(0, 2))):
        add(
            "URL",
            draw(st.sampled_from(["", ";TYPE=WORK", ";TYPE=x-blog"])),
            "https://" + draw(_word) + ".example",
            draw(st.none() | st.just("_$!<HomePage>!$_")),
        )
    if draw(st.booleans()):
        add(
            "BDAY",
            "",
            draw(
                st.sampled_from(
                    ["--0414", "1980-04-14", "19800414", "1604-04-14", "1980-04-14T00:00:00Z"]
                )
            ),
        )
    for _ in range(draw(st.integers(0, 2))):
        if v4:
            add(
                "RELATED",
                ";VALUE=text" + draw(st.sampled_from(["", ";TYPE=spouse", ";TYPE=friend"])),
                draw(_value_text),
            )
        else:
            add(
                "X-ABRELATEDNAMES",
                "",
                draw(_value_text),
                draw(st.sampled_from(["_$!<Spouse>!$_", "_$!<Manager>!$_", "Godfather"])),
            )
    if draw(st.booleans()):
        add("CATEGORIES", "", ",".join(draw(st.lists(_value_text, min_size=1, max_size=3))))
    if draw(st.booleans()):
        data = base64.b64encode(draw(st.binary(min_size=1, max_size=60))).decode()
        add(
            "PHOTO",
            "" if v4 else ";ENCODING=b;TYPE=JPEG",
            f"data:image/jpeg;base64,{data}" if v4 else data,
        )
    for _ in range(draw(st.integers(0, 3))):  # unknown properties, with params and groups
        add(
            f"X-{draw(_word).upper()}",
            draw(st.sampled_from(["", ";X-A=1", ";TYPE=x,y"])),
            draw(_value_text),
        )
    return draw(st.permutations(lines))


@st.composite
def vcards(draw: st.DrawFn) -> tuple[str, str]:
    version = draw(st.sampled_from(["3.0", "4.0"]))
    body = draw(vcard_lines(version))
    lines = ["BEGIN:VCARD", f"VERSION:{version}", f"UID:{draw(_word)}", *body, "END:VCARD"]
    return version, "\r\n".join(lines) + "\r\n"
