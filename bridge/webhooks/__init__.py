"""Real time from Aurinko (issue 16): webhook notifications make a book pull at once.

``WebhookEndpoint`` answers Aurinko at ``{public_url}/.bridge/webhooks/aurinko/{token}``
(served by ``serve`` ahead of CardDAV); ``WebhookManager`` keeps each owned book subscribed.
Polling goes on as before: webhooks only make changes arrive sooner.
"""

from .endpoint import AURINKO, PREFIX, WebhookEndpoint, handles, notification_url, url_prefix
from .manager import RESOURCE, WebhookManager
from .signature import Verifier, sign

__all__ = [
    "AURINKO",
    "PREFIX",
    "RESOURCE",
    "Verifier",
    "WebhookEndpoint",
    "WebhookManager",
    "handles",
    "notification_url",
    "sign",
    "url_prefix",
]
