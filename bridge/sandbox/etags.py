"""Etags: how a new one looks (per provider), how it is answered, how If-Match compares.

A contact's etag is stored bare. It is answered as stored, or as ``W/"<etag>"`` when weak
etags are switched on. If-Match always matches the stored etag with one pair of surrounding
double quotes stripped from both (``abc`` and ``"abc"`` compare equal); with weak etags it
also accepts the ``W/"..."`` form that was answered. ``*`` never matches.
"""

from __future__ import annotations

import base64
import secrets

from bridge.sandbox.profiles import EtagStyle

_WEAK = "W/"


def new_etag(style: EtagStyle) -> str:
    if style == "google":
        # Google People API's form: "%" then standard base64 ending in "=", e.g.
        # "%EgUBAj0DNy4aBAECBQciDFFPY2Zk...=" (it may hold "+" and "/" as well).
        return "%" + base64.b64encode(secrets.token_bytes(29)).decode("ascii")
    return secrets.token_urlsafe(12)


def answered(etag: str, weak: bool) -> str:
    """The etag as answers carry it."""
    return f'{_WEAK}"{etag}"' if weak else etag


def _unquote(etag: str) -> str:
    if len(etag) >= 2 and etag.startswith('"') and etag.endswith('"'):
        return etag[1:-1]
    return etag


def matches(if_match: str, etag: str, weak: bool) -> bool:
    """True if the If-Match value names ``etag``."""
    value = if_match.strip()
    if weak and value.startswith(_WEAK):
        value = value[len(_WEAK) :]
    return _unquote(value) == _unquote(etag)
