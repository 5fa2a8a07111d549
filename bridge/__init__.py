"""Aurinko CardDAV bridge: Aurinko Contacts API <-> CardDAV, vCard folders and a local store."""

__version__ = "0.1.0"
