"""The floor of an initial pull, in one process: JSON parse + vCard render + SQLite insert."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from bridge.mapping import to_vcard


def floor_rate(contacts: list[dict[str, Any]], work: Path, page: int = 500) -> float:
    """Contacts per second for the least work a pull must do for each contact."""
    pages = [
        json.dumps(
            {"records": [{**c, "id": f"id-{i + n}"} for n, c in enumerate(contacts[i : i + page])]}
        )
        for i in range(0, len(contacts), page)
    ]
    conn = sqlite3.connect(work / "floor.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE c (id TEXT PRIMARY KEY, json TEXT, vcard TEXT)")
    start = time.perf_counter()
    for body in pages:
        conn.execute("BEGIN")
        for record in json.loads(body)["records"]:
            vcard = to_vcard(record, "3.0")
            conn.execute(
                "INSERT INTO c VALUES (?, ?, ?)", (record["id"], json.dumps(record), vcard)
            )
        conn.execute("COMMIT")
    took = time.perf_counter() - start
    conn.close()
    return len(contacts) / took
