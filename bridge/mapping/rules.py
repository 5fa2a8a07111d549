"""The kinds of mapping rule the table is made of, one small codec per kind of property.

A rule ties vCard properties to one part of the contact and knows four things:

- ``decode``: what one of its lines (plus the ``X-ABLabel`` of the line's group) says;
- ``render``: the line (and label) for a value, in a given version;
- ``project`` / ``inject``: where its values live in the Aurinko contact.

Scalar rules own the first of their lines in a card (later ones stay unmapped, in the shadow
only); repeated rules own every line, one list item each. Parameters a rule does not list in
``owned`` belong to the client and are carried along when the rule rewrites a line.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any

from .contentline import (
    ContentLine,
    Param,
    caret_decode,
    caret_encode,
    decoded_value,
    escape_text,
    join_escaped,
    split_escaped,
    text_list,
    unescape_text,
)
from .errors import MappingError
from .limits import Limits
from .schema import ITEM_VALUE_KEYS
from .typetable import TypeTable
from .values import (
    base64_size,
    data_uri,
    media_type_from_type_param,
    number_from_uri,
    parse_birthday,
    parse_data_uri,
    render_birthday,
    tel_uri,
    type_param_for_media_type,
)

# Parameters that describe the encoding of a value rather than its meaning: every rule
# recomputes them when it writes a line.
ENCODING_PARAMS = frozenset({"VALUE", "ENCODING", "CHARSET"})


@dataclass(frozen=True)
class Context:
    version: str
    limits: Limits


@dataclass(frozen=True)
class Found:
    """What a line says: ``value`` (``None`` for an empty line the rule still owns)."""

    value: Any
    used_label: bool = False


@dataclass(frozen=True)
class Rendered:
    line: ContentLine
    label: str | None = None


def text_value(line: ContentLine, version: str) -> str:
    return unescape_text(decoded_value(line), version)


def get_path(contact: Mapping[str, Any], path: Sequence[str]) -> Any:
    value: Any = contact
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def set_path(contact: dict[str, Any], path: Sequence[str], value: Any) -> None:
    target = contact
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


class Rule(ABC):
    field: str
    names: tuple[str, ...]
    repeated: bool = False
    types: TypeTable | None = None
    extra_owned: frozenset[str] = frozenset()
    # An empty line of this rule is written only into a card the mapping makes or converts;
    # a client's card of the served version that has none keeps having none.
    kept_absent: bool = False

    @cached_property  # fixed once the rule is built; read for every parameter of a rewrite
    def owned(self) -> frozenset[str]:
        typed = {"TYPE"} if self.types is not None else set()
        return ENCODING_PARAMS | self.extra_owned | typed

    def claims(self, line: ContentLine) -> bool:
        return line.key in self.names

    @abstractmethod
    def decode(self, line: ContentLine, label: str | None, ctx: Context) -> Found | None:
        """``None`` when the line is not this rule's to map (it stays unmapped)."""

    @abstractmethod
    def render(self, value: Any, version: str, base: ContentLine | None = None) -> Rendered: ...

    @abstractmethod
    def project(self, contact: Mapping[str, Any], version: str) -> list[Any]:
        """The values to write for a (normalised) contact; ``None`` renders an empty line."""

    @abstractmethod
    def inject(self, contact: dict[str, Any], values: list[Any]) -> None: ...

    def pair_key(self, value: Any) -> object:
        """Values with equal keys may reuse each other's line (and its group and label)."""
        return None

    def render_name(self, version: str) -> str:
        """The property this rule writes in ``version``."""
        return self.names[0]

    def same(self, a: Any, b: Any) -> bool:
        return bool(a == b)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({'/'.join(self.names)} -> {self.field})"


# --- scalar rules ----------------------------------------------------------------------------


class TextRule(Rule):
    """One TEXT property <-> one contact string. ``joiner`` reads a list value (NICKNAME:a,b)
    as one string; ``always`` writes the property even when empty (FN is mandatory)."""

    def __init__(
        self, name: str, path: tuple[str, ...], *, joiner: str | None = None, always: bool = False
    ) -> None:
        self.names = (name,)
        self.path = path
        self.field = path[0]
        self.joiner = joiner
        self.always = always

    def decode(self, line: ContentLine, label: str | None, ctx: Context) -> Found:
        if self.joiner is None:
            text = text_value(line, ctx.version)
        else:
            parts = text_list(decoded_value(line), ctx.version)
            text = self.joiner.join(part for part in parts if part)
        return Found(text or None)

    def render(self, value: Any, version: str, base: ContentLine | None = None) -> Rendered:
        return Rendered(ContentLine(self.names[0], escape_text(value or "")))

    def project(self, contact: Mapping[str, Any], version: str) -> list[Any]:
        value = get_path(contact, self.path)
        return [value] if value is not None or self.always else []

    def inject(self, contact: dict[str, Any], values: list[Any]) -> None:
        set_path(contact, self.path, values[0])


def structured_value(parts: Sequence[str], base: ContentLine | None, trim: bool) -> str:
    """Components joined with ``;``; components of ``base`` beyond ours are kept (ORG units,
    RFC 9554 N and ADR components), so rewriting a line never drops them."""
    extra = split_escaped(base.value, ";")[len(parts) :] if base is not None else []
    if any(extra):
        return ";".join([join_escaped(parts), *extra])
    parts = list(parts)
    while trim and len(parts) > 1 and not parts[-1]:
        parts.pop()
    return join_escaped(parts)


class StructuredRule(Rule):
    """N and ORG: ``;``-separated components <-> keys of one contact object."""

    def __init__(
        self,
        name: str,
        field: str,
        keys: tuple[str, ...],
        *,
        always_in: tuple[str, ...] = (),
        trim: bool = False,
    ) -> None:
        self.names = (name,)
        self.field = field
        self.keys = keys
        self.always_in = always_in
        self.kept_absent = bool(always_in)
        self.trim = trim

    def decode(self, line: ContentLine, label: str | None, ctx: Context) -> Found:
        parts = text_list(decoded_value(line), ctx.version, ";")
        value = {key: part for key, part in zip(self.keys, parts, strict=False) if part}
        return Found(value or None)

    def render(self, value: Any, version: str, base: ContentLine | None = None) -> Rendered:
        parts = [(value or {}).get(key, "") for key in self.keys]
        return Rendered(ContentLine(self.names[0], structured_value(parts, base, self.trim)))

    def project(self, contact: Mapping[str, Any], version: str) -> list[Any]:
        obj = contact.get(self.field) or {}
        value = {key: obj[key] for key in self.keys if key in obj}
        if value:
            return [value]
        return [None] if version in self.always_in else []

    def inject(self, contact: dict[str, Any], values: list[Any]) -> None:
        contact.setdefault(self.field, {}).update(values[0])


class BirthdayRule(Rule):
    field = "birthday"
    names = ("BDAY",)
    extra_owned = frozenset({"X-APPLE-OMIT-YEAR"})

    def decode(self, line: ContentLine, label: str | None, ctx: Context) -> Found:
        text = text_value(line, ctx.version)
        if (line.first_param("VALUE") or "").lower() == "text":
            return Found(text or None)
        return Found(parse_birthday(text, line.first_param("X-APPLE-OMIT-YEAR")))

    def render(self, value: Any, version: str, base: ContentLine | None = None) -> Rendered:
        date = render_birthday(value, version)
        if date is None:  # not a date: kept as text rather than lost
            return Rendered(ContentLine("BDAY", escape_text(value), (Param("VALUE", ("text",)),)))
        text, params = date
        return Rendered(ContentLine("BDAY", text, tuple(Param(k, (v,)) for k, v in params.items())))

    def project(self, contact: Mapping[str, Any], version: str) -> list[Any]:
        return [contact["birthday"]] if "birthday" in contact else []

    def inject(self, contact: dict[str, Any], values: list[Any]) -> None:
        contact["birthday"] = values[0]


class KeywordsRule(Rule):
    field = "keywords"
    names = ("CATEGORIES",)

    def decode(self, line: ContentLine, label: str | None, ctx: Context) -> Found:
        words = [word for word in text_list(decoded_value(line), ctx.version) if word]
        return Found(words or None)

    def render(self, value: Any, version: str, base: ContentLine | None = None) -> Rendered:
        return Rendered(ContentLine("CATEGORIES", ",".join(escape_text(w) for w in value)))

    def project(self, contact: Mapping[str, Any], version: str) -> list[Any]:
        return [contact["keywords"]] if "keywords" in contact else []

    def inject(self, contact: dict[str, Any], values: list[Any]) -> None:
        contact["keywords"] = values[0]


PHOTO_ID, PHOTO_NAME = "X-AURINKO-ID", "X-AURINKO-NAME"


class PhotoRule(Rule):
    """An inline PHOTO: 3.0 ``ENCODING=b;TYPE=JPEG``, 4.0 ``data:`` URI. ``photo.id`` and
    ``photo.name`` travel as parameters of the line, so they die with the image when a client
    replaces it. A PHOTO by URL is not mapped (the mapping does no I/O)."""

    field = "photo"
    names = ("PHOTO",)
    extra_owned = frozenset({"TYPE", "MEDIATYPE", PHOTO_ID, PHOTO_NAME})

    def decode(self, line: ContentLine, label: str | None, ctx: Context) -> Found | None:
        image = self._image(line)
        if image is None:
            return None
        media_type, content = image
        size = base64_size(content)
        if size is None:
            raise MappingError("PHOTO is not valid base64", line=line.lineno)
        if size > ctx.limits.max_photo_bytes:
            raise MappingError(
                f"PHOTO is {size:,} bytes, larger than the limit of "
                f"{ctx.limits.max_photo_bytes:,} bytes",
                line=line.lineno,
            )
        photo = {"mimeType": media_type, "content": content}
        photo["id"] = _caret_param(line, PHOTO_ID)
        photo["name"] = _caret_param(line, PHOTO_NAME)
        return Found({key: value for key, value in photo.items() if value} or None)

    @staticmethod
    def _image(line: ContentLine) -> tuple[str | None, str] | None:
        value = line.value.replace("\\;", ";").replace("\\,", ",")  # some writers escape URIs
        if value[:5].lower() == "data:":
            return parse_data_uri(value)
        encodings = {encoding.upper() for encoding in line.param("ENCODING")}
        if not encodings & {"B", "BASE64"}:
            return None
        media = line.first_param("MEDIATYPE") or next(iter(line.type_tokens()), None)
        return (media_type_from_type_param(media) if media else None), "".join(value.split())

    def render(self, value: Any, version: str, base: ContentLine | None = None) -> Rendered:
        meta = tuple(
            Param(param, (caret_encode(value[key]),))
            for param, key in ((PHOTO_ID, "id"), (PHOTO_NAME, "name"))
            if key in value
        )
        media = value.get("mimeType")
        if version == "4.0":
            return Rendered(ContentLine("PHOTO", data_uri(media, value["content"]), meta))
        params = [Param("ENCODING", ("b",))]
        if media:
            params.append(Param("TYPE", (type_param_for_media_type(media),)))
        return Rendered(ContentLine("PHOTO", value["content"], (*params, *meta)))

    def project(self, contact: Mapping[str, Any], version: str) -> list[Any]:
        photo = contact.get("photo") or {}
        return [photo] if "content" in photo else []

    def inject(self, contact: dict[str, Any], values: list[Any]) -> None:
        contact["photo"] = dict(values[0])


class PhotoMetaRule(Rule):
    """``photo`` metadata without an image (what a sync page without ``withPhoto`` carries) as
    ``X-AURINKO-PHOTO:<json>``; an inline PHOTO's own fields win over it."""

    field = "photo"
    names = ("X-AURINKO-PHOTO",)
    keys = ("id", "name", "mimeType")

    def decode(self, line: ContentLine, label: str | None, ctx: Context) -> Found | None:
        try:
            data = json.loads(text_value(line, ctx.version))
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        meta = {k: data[k] for k in self.keys if isinstance(data.get(k), str) and data[k]}
        if "mimeType" in meta:
            meta["mimeType"] = meta["mimeType"].lower()
        return Found(meta or None)

    def render(self, value: Any, version: str, base: ContentLine | None = None) -> Rendered:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        return Rendered(ContentLine(self.names[0], escape_text(text)))

    def project(self, contact: Mapping[str, Any], version: str) -> list[Any]:
        photo = contact.get("photo") or {}
        return [photo] if photo and "content" not in photo else []

    def inject(self, contact: dict[str, Any], values: list[Any]) -> None:
        photo = contact.setdefault("photo", {})
        for key, value in values[0].items():
            photo.setdefault(key, value)


def _caret_param(line: ContentLine, name: str) -> str | None:
    value = line.first_param(name)
    return caret_decode(value) if value is not None else None


# --- repeated rules: one list item per line --------------------------------------------------


class ItemCodec(ABC):
    """The value part of one kind of list item; the type is ``ItemRule``'s business."""

    owned: frozenset[str] = frozenset()
    # Properties whose name says the type (Outlook's X-MS-SPOUSE): read as these TYPE values.
    implied_types: Mapping[str, tuple[str, ...]] = MappingProxyType({})

    def accepts(self, line: ContentLine, version: str) -> bool:
        return True

    def property_name(self, version: str) -> str:
        raise NotImplementedError

    @abstractmethod
    def read(self, line: ContentLine, version: str) -> dict[str, Any]: ...

    @abstractmethod
    def write(
        self, item: Mapping[str, Any], version: str, base: ContentLine | None
    ) -> tuple[str, tuple[Param, ...]]: ...


class ItemRule(Rule):
    repeated = True

    def __init__(
        self, field: str, names: tuple[str, ...], codec: ItemCodec, types: TypeTable | None
    ) -> None:
        self.field = field
        self.names = names
        self.codec = codec
        self.types = types
        self.extra_owned = codec.owned

    def claims(self, line: ContentLine) -> bool:
        return line.key in self.names

    def decode(self, line: ContentLine, label: str | None, ctx: Context) -> Found | None:
        if not self.codec.accepts(line, ctx.version):
            return None
        item = {key: value for key, value in self.codec.read(line, ctx.version).items() if value}
        if not any(key in item for key in ITEM_VALUE_KEYS[self.field]):
            return None  # an EMAIL without address (...) stays in the card, unmapped
        if self.types is None:
            return Found(item)
        tokens = (*line.type_tokens(), *self.codec.implied_types.get(line.key, ()))
        kind, used_label = self.types.resolve(tokens, label)
        if kind is not None:
            item["type"] = kind
        return Found(item, used_label)

    def render(self, value: Any, version: str, base: ContentLine | None = None) -> Rendered:
        text, params = self.codec.write(value, version, base)
        label = None
        if self.types is not None:
            spelling = self.types.spell(value.get("type"), version)
            if spelling.tokens:
                params = (Param("TYPE", spelling.tokens), *params)
            label = spelling.label
        return Rendered(ContentLine(self.codec.property_name(version), text, params), label)

    def project(self, contact: Mapping[str, Any], version: str) -> list[Any]:
        return list(contact.get(self.field, ()))

    def inject(self, contact: dict[str, Any], values: list[Any]) -> None:
        contact.setdefault(self.field, []).extend(values)

    def pair_key(self, value: Any) -> object:
        return value.get("type")

    def render_name(self, version: str) -> str:
        return self.codec.property_name(version)


class EmailCodec(ItemCodec):
    """``EMAIL;X-NAME=<name>:<address>``: the Aurinko ``name`` has no vCard property; the
    parameter is caret-encoded (RFC 6868) so any text survives."""

    owned = frozenset({"X-NAME"})

    def property_name(self, version: str) -> str:
        return "EMAIL"

    def read(self, line: ContentLine, version: str) -> dict[str, Any]:
        return {"address": text_value(line, version), "name": _caret_param(line, "X-NAME")}

    def write(
        self, item: Mapping[str, Any], version: str, base: ContentLine | None
    ) -> tuple[str, tuple[Param, ...]]:
        name = item.get("name")
        params = (Param("X-NAME", (caret_encode(name),)),) if name else ()
        return escape_text(item.get("address", "")), params


class PhoneCodec(ItemCodec):
    """3.0: the number as text. 4.0: ``VALUE=uri:tel:...`` when the number is an exact tel URI
    (no spaces), else ``VALUE=text``. Reads ``tel:`` URIs with ``;ext=`` in either version, and
    Outlook's 2.1 ``X-MS-TEL`` (types vCard lacks, such as ``CALLBACK``)."""

    def property_name(self, version: str) -> str:
        return "TEL"

    def read(self, line: ContentLine, version: str) -> dict[str, Any]:
        value_type = (line.first_param("VALUE") or "").lower()
        raw = decoded_value(line)
        is_uri = value_type == "uri" or (
            version == "4.0" and not value_type and raw[:4].lower() == "tel:"
        )
        return {"number": number_from_uri(raw) if is_uri else unescape_text(raw, version)}

    def write(
        self, item: Mapping[str, Any], version: str, base: ContentLine | None
    ) -> tuple[str, tuple[Param, ...]]:
        number = item.get("number", "")
        uri = tel_uri(number) if version == "4.0" else None
        if uri is not None:
            return uri, (Param("VALUE", ("uri",)),)
        params = (Param("VALUE", ("text",)),) if version == "4.0" else ()
        return escape_text(number), params


ADR_KEYS = ("poBox", "streetLine2", "street", "city", "state", "postalCode", "country")


class AddressCodec(ItemCodec):
    """ADR's seven components; the extended address carries ``streetLine2`` (the only slot
    that keeps it apart from ``street``, which may itself hold line breaks)."""

    def property_name(self, version: str) -> str:
        return "ADR"

    def read(self, line: ContentLine, version: str) -> dict[str, Any]:
        parts = text_list(decoded_value(line), version, ";")
        return dict(zip(ADR_KEYS, parts, strict=False))

    def write(
        self, item: Mapping[str, Any], version: str, base: ContentLine | None
    ) -> tuple[str, tuple[Param, ...]]:
        return structured_value([item.get(key, "") for key in ADR_KEYS], base, False), ()


class UrlCodec(ItemCodec):
    """URL values are URIs: only backslash and line break are escaped on output; escapes
    some writers add anyway (``http\\://``) are read."""

    def property_name(self, version: str) -> str:
        return "URL"

    def read(self, line: ContentLine, version: str) -> dict[str, Any]:
        return {"href": text_value(line, version)}

    def write(
        self, item: Mapping[str, Any], version: str, base: ContentLine | None
    ) -> tuple[str, tuple[Param, ...]]:
        return item.get("href", "").replace("\\", "\\\\").replace("\n", "\\n"), ()


class RelationCodec(ItemCodec):
    """3.0: Apple's ``X-ABRELATEDNAMES`` (type in ``X-ABLabel``); 4.0: ``RELATED;VALUE=text``.
    A RELATED that holds a URI (a reference to another card) is not a name: not mapped.
    Outlook's 2.1 ``X-MS-SPOUSE`` / ``X-MS-MANAGER`` / ``X-MS-ASSISTANT`` are read too."""

    implied_types = MappingProxyType(
        {
            "X-MS-SPOUSE": ("SPOUSE",),
            "X-MS-MANAGER": ("MANAGER",),
            "X-MS-ASSISTANT": ("ASSISTANT",),
        }
    )

    def accepts(self, line: ContentLine, version: str) -> bool:
        if line.key != "RELATED":
            return True
        value_type = (line.first_param("VALUE") or "").lower()
        if value_type:
            return value_type == "text"
        return not _looks_like_uri(line.value)

    def property_name(self, version: str) -> str:
        return "RELATED" if version == "4.0" else "X-ABRELATEDNAMES"

    def read(self, line: ContentLine, version: str) -> dict[str, Any]:
        return {"name": text_value(line, version)}

    def write(
        self, item: Mapping[str, Any], version: str, base: ContentLine | None
    ) -> tuple[str, tuple[Param, ...]]:
        params = (Param("VALUE", ("text",)),) if version == "4.0" else ()
        return escape_text(item.get("name", "")), params


def _looks_like_uri(value: str) -> bool:
    scheme, colon, _ = value.partition(":")
    return bool(colon) and scheme.isascii() and scheme[:1].isalpha() and scheme.isalnum()
