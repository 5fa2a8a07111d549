"""Radicale storage plugin serving Aurinko accounts as CardDAV address books.

A thin translator over ``bridge``: ``[storage] type = radicale_plugin`` with
``bridge_config = /path/to/bridge.toml``; ``[rights] type = radicale_plugin.rights``.
"""

from .storage import Storage

__all__ = ["Storage"]
