"""What the front and the CardDAV application ask of each other.

The CardDAV side (``radicale_plugin``) knows Radicale, its logins and its sync tokens; the
bridge's doors know the status page, webhooks and WebDAV-Push. Each sees the other only
through these protocols, so neither imports the other: ``serve`` puts them together.
"""

from __future__ import annotations

from typing import Protocol

from .wsgi import Environ, Headers, WSGIApp


class Login(Protocol):
    """Who sent a request, if the CardDAV server's users file says their password holds;
    None for no credentials or refused ones."""

    def __call__(self, environ: Environ) -> str | None: ...


class AnswerHooks(Protocol):
    """What a door adds to the CardDAV application's own answers (WebDAV-Push: its
    properties in a PROPFIND, ``webdav-push`` in OPTIONS, a wake-up after a write). The
    CardDAV wrapper calls them around Radicale's answer, before it streams any cards into
    it, so a listing is never held whole for them."""

    def asked(self, environ: Environ, body: bytes) -> None:
        """A PROPFIND's body, as the client sent it."""

    def writing(self, environ: Environ, method: str) -> None:
        """Just before the CardDAV server runs a request."""

    def respond(
        self,
        environ: Environ,
        method: str,
        status: str,
        headers: Headers,
        answer: bytes,
        login: Login,
    ) -> tuple[bytes, Headers]:
        """The CardDAV server's answer (its multistatus of the collections, for a
        listing), with what the door adds; ``login`` reports no refusal."""
        ...


class CardDAV(Protocol):
    """The CardDAV application, as ``radicale_plugin.server.carddav_app`` builds it."""

    realm: str  # its Basic realm: a door's 401 names the same one

    def door(self, environ: Environ) -> str | None:
        """Who sent a request to one of the bridge's own doors; a refused password is
        logged and waited out as CardDAV does, so a guess costs the same at every door."""

    def sync_token(self, book_id: int, seq: int) -> str:
        """The sync token a sync-collection REPORT answers at this change-log position."""

    def application(self, hooks: AnswerHooks | None) -> WSGIApp:
        """The WSGI application serving CardDAV, calling ``hooks`` around its answers."""

    def close(self) -> None:
        """Ends what the CardDAV side set up for this server."""
