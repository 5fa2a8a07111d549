"""``[rights] type = radicale_plugin.rights``: owner_only, and Aurinko-backed books can be
neither deleted nor overwritten (Radicale answers 403 instead of calling the storage)."""

from __future__ import annotations

from typing import Any

from radicale import pathutils
from radicale.rights import owner_only

from . import runtime


class Rights(owner_only.Rights):
    def __init__(self, configuration: Any) -> None:
        super().__init__(configuration)
        self._key = configuration.get("storage", "bridge_config")

    def authorization(self, user: str, user_groups: set[str], path: str) -> str:
        granted: str = super().authorization(user, user_groups, path)
        parts = [p for p in pathutils.strip_path(path).split("/") if p]
        if granted and len(parts) == 1:
            # A principal holds the user's books; it is never deleted. For an untagged
            # collection Radicale checks the forbid-delete right as upper-case "D".
            granted += "D"
        if granted and len(parts) == 2 and runtime.bridge_for(self._key).is_aurinko(*parts):
            granted += "do"  # lowercase: explicitly no delete, no overwrite
        return granted
