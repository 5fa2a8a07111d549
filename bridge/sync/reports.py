"""What a pull or push did, for the CLI and the logs."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..words import count


@dataclass
class SyncReport:
    book: str
    created: int = 0  # contacts new in the store
    updated: int = 0  # served cards that changed
    deleted: int = 0
    unchanged: int = 0  # records seen that changed nothing (own echoes included)
    pushed: int = 0  # outbox operations that reached Aurinko
    pending: int = 0  # operations still waiting in the outbox
    full_resync: bool = False
    skipped: list[str] = field(default_factory=list)  # bad records, with the reason
    conflicts: list[str] = field(default_factory=list)  # where each losing version was kept
    error: str | None = None  # why the run stopped early, if it did

    def summary(self) -> str:
        parts = [
            f"{self.book}:",
            f"{self.created} created, {self.updated} updated, {self.deleted} deleted,",
            f"{self.unchanged} unchanged; {self.pushed} pushed, {self.pending} pending",
        ]
        if self.full_resync:
            parts.append("(full resync)")
        # "; ..." follows the word before it: "0 pending; 1 conflict", never "pending ;".
        if self.skipped:
            parts[-1] += f"; {len(self.skipped)} skipped"
        if self.conflicts:
            parts[-1] += f"; {count(len(self.conflicts), 'conflict')}"
        return " ".join(parts)
