"""The local store: address books, contacts, change log, outbox and conflicts, in SQLite
(the default) or PostgreSQL (``[store]``)."""

from .contacts import BookExistsError, ContactStore
from .database import STORE_FILE, open_database, store_exists
from .interface import Database, StoreError, StoreLocation
from .outbox import Outbox
from .rows import Book, Conflict, ContactRow, ItemMeta, ListedCard, OutboxOp, StoredItem
from .schema import SCHEMA_VERSION, SchemaTooNewError
from .sqlite import SQLiteDatabase

__all__ = [
    "SCHEMA_VERSION",
    "STORE_FILE",
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
    "SQLiteDatabase",
    "SchemaTooNewError",
    "StoreError",
    "StoreLocation",
    "StoredItem",
    "open_database",
    "store_exists",
]
