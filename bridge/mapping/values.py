"""Value formats that differ between vCard versions: dates, phone numbers, inline images, REV."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime

# --- birthdays -------------------------------------------------------------------------------
# Aurinko: "YYYY-MM-DD", or "--MM-DD" without a year (this project's decision).
# 4.0 writes BDAY:YYYYMMDD / BDAY:--MMDD; 3.0 writes BDAY:YYYY-MM-DD, and a year-less date as
# Apple does and sabre/vobject converts: BDAY;X-APPLE-OMIT-YEAR=1604:1604-MM-DD (1604 is a leap
# year, so 29 February survives).

OMIT_YEAR = "1604"
_AURINKO_DATE = re.compile(r"(?:(\d{4})|-)-(\d{2})-(\d{2})")
_VCARD_DATE = re.compile(r"(?:(\d{4})|--)-?(\d{2})-?(\d{2})(?:T.*)?", re.IGNORECASE)


def parse_birthday(text: str, omit_year: str | None) -> str | None:
    """The Aurinko birthday of a BDAY value, or ``None`` when it is not a month-and-day date.

    Accepts ``--MMDD``, ``--MM-DD``, ``YYYYMMDD``, ``YYYY-MM-DD`` and date-times, whose date part
    is taken as written (never converted to another zone, which shifts a day).
    """
    match = _VCARD_DATE.fullmatch(text.strip())
    if not match:
        return None
    year, month, day = match.groups()
    if year is not None and omit_year is not None and year == omit_year.strip():
        year = None
    return f"{year or '-'}-{month}-{day}"


def render_birthday(birthday: str, version: str) -> tuple[str, dict[str, str]] | None:
    """BDAY value and parameters for an Aurinko birthday; ``None`` if it is not a date."""
    match = _AURINKO_DATE.fullmatch(birthday)
    if not match:
        return None
    year, month, day = match.groups()
    if version == "4.0":
        return (f"{year}{month}{day}" if year else f"--{month}{day}"), {}
    if year:
        return f"{year}-{month}-{day}", {}
    return f"{OMIT_YEAR}-{month}-{day}", {"X-APPLE-OMIT-YEAR": OMIT_YEAR}


# --- phone numbers ---------------------------------------------------------------------------
# 4.0 prefers tel: URIs (RFC 3966), which cannot hold spaces; a number that is not a valid URI
# body is written as VALUE=text. The extension ";ext=12" reads as " ext. 12".

_TEL_BODY = re.compile(r"\+?[0-9*#().\-]*[0-9][0-9*#().\-]*")
_TEL_EXT = re.compile(r"(.+?) ext\. ([0-9]+)")


def tel_uri(number: str) -> str | None:
    """``tel:`` URI for a number that has an exact one, else ``None``."""
    main, ext = number, None
    match = _TEL_EXT.fullmatch(number)
    if match:
        main, ext = match.groups()
    if not _TEL_BODY.fullmatch(main):
        return None
    return f"tel:{main};ext={ext}" if ext else f"tel:{main}"


def number_from_uri(uri: str) -> str:
    body = uri[4:] if uri[:4].lower() == "tel:" else uri
    main, sep, params = body.partition(";")
    ext = next((p[4:] for p in params.split(";") if p.lower().startswith("ext=")), None)
    others = [p for p in params.split(";") if p and not p.lower().startswith("ext=")]
    number = main + (f" ext. {ext}" if ext else "")
    return ";".join([number, *others]) if sep else number


# --- inline images ---------------------------------------------------------------------------

_DATA_URI = re.compile(r"data:([^,;]*)((?:;[^,;]*)*),(.*)", re.DOTALL | re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def parse_data_uri(uri: str) -> tuple[str | None, str] | None:
    """(media type, base64 data) of a base64 ``data:`` URI; ``None`` for other URIs."""
    match = _DATA_URI.fullmatch(uri.strip())
    if not match:
        return None
    media, params, data = match.groups()
    if "base64" not in (param.lower() for param in params.split(";")):
        return None
    return (media.lower() or None), _SPACE.sub("", data)


def data_uri(media_type: str | None, content: str) -> str:
    return f"data:{media_type or ''};base64,{content}"


def base64_size(content: str) -> int | None:
    """Decoded size of valid base64 text, else ``None``."""
    try:
        return len(base64.b64decode(content, validate=True))
    except (binascii.Error, ValueError):
        return None


def media_type_from_type_param(value: str) -> str:
    """3.0 writes ``TYPE=JPEG`` (an image subtype); some clients write a full media type."""
    value = value.strip().lower()
    return value if "/" in value else f"image/{value}"


def type_param_for_media_type(media_type: str) -> str:
    if media_type.startswith("image/") and re.fullmatch(r"[a-z0-9.+-]+", media_type[6:]):
        return media_type[6:].upper()
    return media_type


# --- timestamps ------------------------------------------------------------------------------


def render_rev(timestamp: str, version: str) -> str | None:
    """REV for an RFC 3339 ``lastModifiedTime``, in UTC; ``None`` if it cannot be read."""
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    pattern = "%Y%m%dT%H%M%SZ" if version == "4.0" else "%Y-%m-%dT%H:%M:%SZ"
    return moment.strftime(pattern)
