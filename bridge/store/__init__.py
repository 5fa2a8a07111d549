"""The local store: address books, contacts, change log, outbox and conflicts, in SQLite
(the default) or PostgreSQL (``[store]``)."""

from . import notify
from .contacts import BookExistsError, ContactStore
from .database import STORE_FILE, open_database, shared_store, store_exists
from .folders import FileRecord, FolderState
from .interface import Database, StoreError, StoreLocation
from .locks import BookOwnership
from .outbox import Outbox
from .rows import Book, Conflict, ContactRow, ItemMeta, ListedCard, OutboxOp, StoredItem
from .schema import SCHEMA_VERSION, SchemaTooNewError
from .sqlite import SQLiteDatabase

__all__ = [
    "SCHEMA_VERSION",
    "STORE_FILE",
    "Book",
    "BookExistsError",
    "BookOwnership",
    "Conflict",
    "ContactRow",
    "ContactStore",
    "Database",
    "FileRecord",
    "FolderState",
    "ItemMeta",
    "ListedCard",
    "Outbox",
    "OutboxOp",
    "SQLiteDatabase",
    "SchemaTooNewError",
    "StoreError",
    "StoreLocation",
    "StoredItem",
    "notify",
    "open_database",
    "shared_store",
    "store_exists",
]
