"""The words the store keeps in its rows: book kinds, outbox operations, conflict outcomes.

Each is a ``StrEnum`` whose values are the strings already stored (and, for books, named
in the schema's CHECK): data directories and PostgreSQL stores written by any version read
unchanged, and a member compares equal to the text a row holds."""

from __future__ import annotations

import enum


class BookKind(enum.StrEnum):
    AURINKO = "aurinko"  # backed by an account: writes go up, changes come down
    LOCAL = "local"  # lives only in the store


class WriteOp(enum.StrEnum):
    """What an outbox entry asks of Aurinko."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class ConflictOutcome(enum.StrEnum):
    """What happened to a conflict's two sides; the store keeps the losing one."""

    REMOTE_WINS = "remote-wins"  # a field edited on both sides took Aurinko's value
    LOCAL_WINS = "local-wins"  # ... took the local value
    DELETED_REMOTELY = "deleted-remotely"  # deleted upstream while edited here
    FOLDER_EDIT_WON = "folder-edit-won"  # a folder's file replaced a card the book changed
    FOLDER_EDIT_OVERWRITTEN = "folder-edit-overwritten"  # the book's card replaced the file
