"""Realistic generated contacts: the same N cards for the bridge and for stock Radicale."""

from __future__ import annotations

import base64
import random
import struct
import zlib
from typing import Any

GIVEN = [
    "Zoë",
    "Łukasz",
    "Ægir",
    "María",
    "Jürgen",
    "Søren",
    "Chloé",
    "Ivan",
    "Aiko",
    "Noah",
    "Olivia",
    "Mateo",
    "Amélie",
    "Björn",
    "Ngozi",
    "Priya",
    "Yusuf",
    "Élodie",
    "Kai",
    "Lena",
]
FAMILY = [
    "Müller",
    "Núñez",
    "Øverland",
    "Kowalski",
    "Dubois",
    "Tanaka",
    "O'Brien",
    "Smith",
    "Rossi",
    "Novák",
    "Haddad",
    "Silva",
    "Nguyen",
    "Andersson",
    "Papadopoulos",
    "李",
]
CITIES = [
    ("Berlin", "DE"),
    ("Kraków", "PL"),
    ("São Paulo", "BR"),
    ("Lyon", "FR"),
    ("Osaka", "JP"),
    ("Toronto", "CA"),
    ("Austin", "US"),
    ("Malmö", "SE"),
]
PHONE_TYPES = ["mobile", "work", "home", "workMobile", "main", "homeFax", "pager", "other"]


def _png(size: int = 48) -> str:
    """A real PNG of a few KB, as a few percent of real address books carry photos."""
    rows = b"".join(
        b"\x00" + bytes(v for x in range(size) for v in (x * 5 % 256, y * 5 % 256, x * y % 256))
        for y in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
    return base64.b64encode(png + chunk(b"IEND", b"")).decode()


PHOTO = _png()


def contact(i: int, rng: random.Random) -> dict[str, Any]:
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    city, country = rng.choice(CITIES)
    record: dict[str, Any] = {
        "name": {"givenName": given, "familyName": family, "displayName": f"{given} {family} {i}"},
        "emailAddresses": [
            {"address": f"{given.lower()}.{i}@example.com", "type": "work"},
            {"address": f"p{i}@example.org", "type": "home"},
        ],
        "phoneNumbers": [
            {"number": f"+1 555 {i % 10000:04d} {n}", "type": rng.choice(PHONE_TYPES)}
            for n in range(rng.randint(1, 3))
        ],
        "addresses": [
            {
                "street": f"{i} Main Street",
                "city": city,
                "postalCode": f"{10000 + i % 89999}",
                "country": country,
                "type": rng.choice(["work", "home"]),
            }
        ],
        "company": {"name": f"Company {i % 97}", "jobTitle": "Engineer", "department": "R&D"},
        "notes": f"Met at conference {i % 13}.\nFollow up about project {i % 31}.",
        "keywords": ["friends"] if i % 3 else ["work", "vip"],
    }
    if i % 4 == 0:
        record["birthday"] = f"19{50 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d}"
    if i % 25 == 0:
        record["photo"] = {"name": "photo.png", "mimeType": "image/png", "content": PHOTO}
    return record


def contacts(n: int, seed: int = 42) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [contact(i, rng) for i in range(n)]


def new_card(uid: str, name: str) -> str:
    return (
        "BEGIN:VCARD\r\nVERSION:3.0\r\n"
        f"UID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nEMAIL;TYPE=INTERNET:{uid}@example.com\r\n"
        "TEL;TYPE=CELL:+1 555 0100\r\nEND:VCARD\r\n"
    )
