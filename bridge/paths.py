"""Where the bridge keeps its files when the user does not say."""

from __future__ import annotations

import os
from pathlib import Path

# The embedded demo's address book: package data, so a plain `pip install .` has it too.
DEMO_CONTACTS = Path(__file__).resolve().parent / "demo-contacts.json"


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/aurinko-bridge`` (``~/.local/share/aurinko-bridge``)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "aurinko-bridge"
