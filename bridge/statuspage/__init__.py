"""The status page ``serve`` shows at ``/.bridge/``: the facts of ``aurinko-bridge status``
for the logged-in user's books, with buttons to settle conflicts and refused writes."""

from .app import PREFIX, StatusPage, handles

__all__ = ["PREFIX", "StatusPage", "handles"]
