"""The local SQLite store: address books, contacts, change log, outbox and conflicts."""

from .contacts import BookExistsError, ContactStore
from .database import Database
from .outbox import Outbox
from .rows import Book, Conflict, ContactRow, ItemMeta, ListedCard, OutboxOp, StoredItem
from .schema import SCHEMA_VERSION, SchemaTooNewError

__all__ = [
    "SCHEMA_VERSION",
    "Book",
    "BookExistsError",
    "Conflict",
    "ContactRow",
    "ContactStore",
    "Database",
    "ItemMeta",
    "ListedCard",
    "Outbox",
    "OutboxOp",
    "SchemaTooNewError",
    "StoredItem",
]
