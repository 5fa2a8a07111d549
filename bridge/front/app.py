"""``Front``: the WSGI application ``serve`` runs. It answers the bridge's own doors and
hands every other request, unread, to the CardDAV application.

Order matters: Aurinko's webhooks come first (signed, no login precedes them), then the
status page (its own login), then the bound on any body, then WebDAV-Push registration (a
POST or DELETE it recognises), and last CardDAV, which bounds a card and checks logins
before it reads a body itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from .. import statuspage
from ..push import PushFront
from ..statuspage import StatusPage
from ..webhooks import WebhookEndpoint
from .seams import Login
from .wsgi import Environ, StartResponse, WSGIApp, content_length, plain

MAX_BODY = 100 * 1024 * 1024  # Radicale's own default bound (``max_content_length``)


class Front:
    def __init__(
        self,
        carddav: WSGIApp,
        *,
        door: Login | None = None,
        max_body: int = MAX_BODY,
        status_page: StatusPage | None = None,
        webhooks: WebhookEndpoint | None = None,
        push: PushFront | None = None,
    ) -> None:
        """``door`` tells who sent a request to the status page or to WebDAV-Push
        registration (the CardDAV server's users and passwords); ``max_body`` bounds any
        request's body. Without doors, the front only bounds bodies."""
        if door is None and (status_page is not None or push is not None):
            raise ValueError("the status page and WebDAV-Push need a login check (door)")
        self.carddav = carddav
        self.door = door
        self.max_body = max_body
        self.status_page = status_page
        self.webhooks = webhooks
        self.push = push

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if self.webhooks is not None and self.webhooks.handles(path):
            return self.webhooks(environ, start_response)  # signed by Aurinko: no login
        if self.status_page is not None and statuspage.handles(path):
            assert self.door is not None
            return self.status_page(environ, start_response, self.door(environ))
        length = content_length(environ)
        if length > self.max_body:
            reason = f"the request body is {length} bytes; at most {self.max_body} are accepted"
            return plain(start_response, "413 Request Entity Too Large", reason)
        if self.push is not None:  # a registration (POST) or unregistration (DELETE)
            assert self.door is not None
            method = environ.get("REQUEST_METHOD", "").upper()
            answered = self.push.answer(environ, start_response, method, self.door)
            if answered is not None:
                return answered
        return self.carddav(environ, start_response)

    def start(self) -> None:
        """The doors' own work: WebDAV-Push's sender (``serve``'s alone, not a folder
        watcher's)."""
        if self.push is not None:
            self.push.push.start()

    def close(self) -> None:
        if self.push is not None:
            self.push.push.close()
        if self.webhooks is not None:
            self.webhooks.close()
