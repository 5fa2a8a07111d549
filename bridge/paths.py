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


CONFIG_NAME = "bridge.toml"


def user_config_file() -> Path:
    """``$XDG_CONFIG_HOME/aurinko-bridge/bridge.toml`` (``~/.config/aurinko-bridge/...``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "aurinko-bridge" / CONFIG_NAME


def config_candidates() -> list[Path]:
    """Where a command looks for its configuration when not given ``--config``, in order:
    the current folder's ``bridge.toml``, then the user's."""
    return [Path(CONFIG_NAME), user_config_file()]
