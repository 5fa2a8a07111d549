"""WebDAV-Push (draft-bitfire-webdav-push): address books advertise push, clients register
Web Push subscriptions on them, and a sender tells each subscriber when a book's sync token
moves, with an encrypted (RFC 8291), VAPID-signed (RFC 8292) push message."""

from .http import PushFront
from .notifier import Notifier, PushOptions
from .protocol import PUSH, Registration, RegistrationError
from .service import WebDAVPush
from .vapid import Vapid
from .webpush import Delivery

__all__ = [
    "PUSH",
    "Delivery",
    "Notifier",
    "PushFront",
    "PushOptions",
    "Registration",
    "RegistrationError",
    "Vapid",
    "WebDAVPush",
]
