"""WebDAV-Push over HTTP, in front of the CardDAV server (``bridge.front`` calls it).

- ``POST`` of a ``push-register`` body to an address book registers a Web Push
  subscription for its owner: 201 (204 when it renews one) with the registration's URL in
  ``Location`` and its expiry in ``Expires``; ``DELETE`` of that URL unregisters it. A
  refusal is a 403 with the draft's precondition and the reason: a push resource that is
  not a public address (``invalid-subscription``), a user at the cap (``push-not-available``).
- A PROPFIND that names the push properties gets them for the user's address books.
- ``OPTIONS`` of an address book lists ``webdav-push`` in ``DAV``.
- A write (PUT, DELETE) wakes the sender, and its ``Push-Dont-Notify`` is honoured.

Nothing here imports Radicale: the front hands in its login check, and the CardDAV
wrapper calls ``asked``, ``writing`` and ``respond`` as its ``AnswerHooks``.
"""

from __future__ import annotations

import gzip
import io
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote, urlsplit

from ..front.seams import Login
from ..httpserver import read_body
from ..store import Book
from ..store.push import Subscription
from ..sync import SyncEngine
from . import protocol
from .protocol import PUSH, RegistrationError
from .service import WebDAVPush

log = logging.getLogger("bridge.push")

Environ = dict[str, Any]
StartResponse = Callable[..., Any]

REGISTRATIONS = "/.push/"  # registration URLs: /.push/<id> (no user can be named ".push")
MAX_REGISTER = 64 * 1024  # a push-register body is a few hundred bytes
DEFAULT_REALM = "Radicale - Password Required"
_PROPS = "bridge.push.props"  # environ: the push properties a PROPFIND asks for
_WRITE = "bridge.push.write"  # environ: a write's book and change-log position before it
_REGISTRATION = re.compile(r"/\.push/(\d+)/?$")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_RADICALE_POSTS = ("/.web", "/.sharing")  # Radicale's own POST endpoints

ET.register_namespace("P", PUSH)  # answers read <P:topic>, not <ns0:topic>


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def base_prefix(environ: Environ) -> str:
    """The path the server is mounted under, as Radicale reads it."""
    return str(environ.get("HTTP_X_SCRIPT_NAME", environ.get("SCRIPT_NAME", ""))).rstrip("/")


def origin(environ: Environ) -> str:
    """``scheme://host`` the client reached the server at (behind a TLS-terminating proxy,
    what ``X-Forwarded-Proto`` says)."""
    forwarded = str(environ.get("HTTP_X_FORWARDED_PROTO", "")).split(",")[0].strip().lower()
    scheme = forwarded if forwarded in ("http", "https") else environ.get("wsgi.url_scheme", "http")
    host = (
        environ.get("HTTP_HOST")
        or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    )
    return f"{scheme}://{host}"


def _respond(
    start_response: StartResponse,
    status: str,
    body: bytes = b"",
    content_type: str | None = None,
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    headers = list(extra or [])
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    headers.append(("Content-Length", str(len(body))))
    start_response(status, headers)
    return [body]


def _plain(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    return _respond(start_response, status, (text + "\n").encode(), "text/plain; charset=utf-8")


def _refused(start_response: StartResponse, condition: str, reason: str) -> list[bytes]:
    body = protocol.error_body(condition, reason)
    return _respond(start_response, "403 Forbidden", body, "application/xml; charset=utf-8")


def dont_notify(value: str) -> frozenset[int] | None:
    """The registrations ``Push-Dont-Notify`` names (their ids); None for ``*`` (nobody).
    Values that are not this server's registration URLs are ignored, as the draft says."""
    if value.strip() == "*":
        return None
    ids = set()
    for quoted in _QUOTED.findall(value):
        match = _REGISTRATION.search(urlsplit(quoted.replace('\\"', '"')).path)
        if match:
            ids.add(int(match.group(1)))
    return frozenset(ids)


class PushFront:
    def __init__(self, push: WebDAVPush, realm: str = DEFAULT_REALM) -> None:
        self.push = push
        self.realm = realm

    @property
    def engine(self) -> SyncEngine:
        return self.push.engine

    # -- requests of its own ------------------------------------------------------------

    def answer(
        self, environ: Environ, start_response: StartResponse, method: str, login: Login
    ) -> Iterable[bytes] | None:
        """The answer to a registration or unregistration; None for any other request
        (a POST that is not a ``push-register`` goes on with its body, unread as it were)."""
        path = str(environ.get("PATH_INFO", ""))
        if method == "DELETE" and path.startswith(REGISTRATIONS):
            return self._unregister(environ, start_response, path, login)
        if method == "POST" and not path.startswith(_RADICALE_POSTS):
            return self._register(environ, start_response, path, login)
        return None

    def _challenge(self, start_response: StartResponse) -> list[bytes]:
        realm = self.realm.replace('"', "'")
        return _respond(
            start_response,
            "401 Unauthorized",
            b"Authentication is required\n",
            "text/plain; charset=utf-8",
            [("WWW-Authenticate", f'Basic realm="{realm}"')],
        )

    def _register(
        self, environ: Environ, start_response: StartResponse, path: str, login: Login
    ) -> Iterable[bytes] | None:
        user = login(environ)  # before the body is read
        if user is None:
            return self._challenge(start_response)
        try:
            length = max(0, int(environ.get("CONTENT_LENGTH") or 0))
        except ValueError:
            length = 0
        if length > MAX_REGISTER:
            return None  # not a registration: whatever else it is, Radicale answers it
        body = read_body(environ, length)
        if isinstance(body, tuple):
            return _plain(start_response, *body)
        try:
            root = protocol.register_root(body)
        except ET.ParseError as exc:
            if "xml" not in str(environ.get("CONTENT_TYPE", "")).lower():
                root = None
            else:
                return _plain(start_response, "400 Bad Request", f"the body is not XML: {exc}")
        if root is None:
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            return None
        book, refusal = self._book(user, path)
        if book is None:
            if refusal is None:
                return _plain(start_response, "404 Not Found", f"no address book at {path}")
            return _refused(start_response, protocol.PUSH_NOT_AVAILABLE, refusal)
        try:
            registration = protocol.parse_registration(
                root, allow_http=self.push.settings.allow_http
            )
            subscription, created = self.push.register(book, user, registration)
        except RegistrationError as exc:
            log.info("WebDAV-Push registration on %s refused: %s", book.path, exc.reason)
            return _refused(start_response, exc.condition, exc.reason)
        return self._registered(environ, start_response, book, user, subscription, created)

    def _book(self, user: str, path: str) -> tuple[Book | None, str | None]:
        """The user's address book at ``path``; else None and why (None: not found)."""
        parts = _parts(path)
        if not parts or parts[0] != user:
            return None, "WebDAV-Push registrations are for the owner of an address book"
        if len(parts) != 2:
            return None, "WebDAV-Push is available on address books only"
        return self.engine.book(user, parts[1]), None

    def _registered(
        self,
        environ: Environ,
        start_response: StartResponse,
        book: Book,
        user: str,
        subscription: Subscription,
        created: bool,
    ) -> list[bytes]:
        location = f"{origin(environ)}{base_prefix(environ)}{REGISTRATIONS}{subscription.id}"
        assert subscription.expires is not None
        headers = [
            ("Location", location),
            ("Expires", formatdate(subscription.expires, usegmt=True)),
        ]
        log.info(
            "WebDAV-Push: %s %s on %s (subscription %d)",
            user,
            "subscribed" if created else "renewed",
            book.path,
            subscription.id,
        )
        return _respond(
            start_response, "201 Created" if created else "204 No Content", extra=headers
        )

    def _unregister(
        self, environ: Environ, start_response: StartResponse, path: str, login: Login
    ) -> list[bytes]:
        user = login(environ)
        if user is None:
            return self._challenge(start_response)
        match = _REGISTRATION.fullmatch(path)
        if match is None or not self.push.unregister(user, int(match.group(1))):
            return _plain(start_response, "404 Not Found", "no such WebDAV-Push registration")
        log.info("WebDAV-Push: %s unsubscribed (subscription %s)", user, match.group(1))
        return _respond(start_response, "204 No Content")

    # -- around the CardDAV server's own answers ---------------------------------------

    def asked(self, environ: Environ, body: bytes) -> None:
        """Note the push properties a PROPFIND body names, for ``respond``."""
        props = protocol.asked_properties(body)
        if props:
            environ[_PROPS] = props

    def writing(self, environ: Environ, method: str) -> None:
        """Before a write: where the book's change log stands, when the write names
        registrations not to notify (``Push-Dont-Notify``)."""
        if method not in ("PUT", "DELETE"):
            return
        header = environ.get("HTTP_PUSH_DONT_NOTIFY")
        parts = _parts(str(environ.get("PATH_INFO", "")))
        if not header or len(parts) != 3:
            return
        book = self.engine.book(parts[0], parts[1])  # only its owner may write it
        if book is not None:
            environ[_WRITE] = (book, parts[2], self.engine.store.current_seq(book.id))

    def respond(
        self,
        environ: Environ,
        method: str,
        status: str,
        headers: list[tuple[str, str]],
        answer: bytes,
        login: Login,
    ) -> tuple[bytes, list[tuple[str, str]]]:
        """The CardDAV server's answer, with what WebDAV-Push adds to it."""
        if method in ("PUT", "DELETE", "MKCOL") and status.startswith("2"):
            self._written(environ)
        elif method == "OPTIONS":
            headers = self._options(environ, headers)
        props = environ.get(_PROPS)
        if props and status.startswith("207"):
            user = login(environ)
            if user is not None:
                answer = self._fill(environ, answer, headers, props, user)
        return answer, headers

    def _written(self, environ: Environ) -> None:
        write = environ.get(_WRITE)
        if write is not None:
            book, href, before = write
            excluded = dont_notify(str(environ.get("HTTP_PUSH_DONT_NOTIFY", "")))
            upto = self.engine.store.current_seq(book.id)
            self.push.notifier.quiet(book.id, href, before, upto, excluded)
        if self.push.notifier.watching():  # a wake-up costs the request a thread switch
            self.push.notifier.poke()

    def _options(self, environ: Environ, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        parts = _parts(str(environ.get("PATH_INFO", "")))
        if len(parts) != 2 or self.engine.book(parts[0], parts[1]) is None:
            return headers
        return [
            (k, f"{v}, webdav-push" if k.lower() == "dav" and "webdav-push" not in v else v)
            for k, v in headers
        ]

    def _fill(
        self,
        environ: Environ,
        answer: bytes,
        headers: list[tuple[str, str]],
        props: tuple[str, ...],
        user: str,
    ) -> bytes:
        """Radicale's multistatus with the push properties of the user's address books
        moved from its 404s into their 200s, with their values."""
        packed = any(k.lower() == "content-encoding" and v == "gzip" for k, v in headers)
        try:
            root = ET.fromstring(gzip.decompress(answer) if packed else answer)
        except (ET.ParseError, OSError, EOFError):
            return answer
        prefix = base_prefix(environ)
        books = {book.name: book for book in self.engine.books(user)}
        filled = False
        for response in root.findall(protocol.dav("response")):
            href = unquote(response.findtext(protocol.dav("href")) or "")
            if prefix and href.startswith(prefix):
                href = href[len(prefix) :]
            parts = _parts(href)
            book = books.get(parts[1]) if len(parts) == 2 and parts[0] == user else None
            if book is not None:
                _fill_response(response, props, self._values(book, props))
                filled = True
        if not filled:
            return answer
        text = ET.tostring(root, encoding="utf-8", xml_declaration=True)
        return gzip.compress(text) if packed else text

    def _values(self, book: Book, props: tuple[str, ...]) -> list[ET.Element]:
        topic, key = self.push.topic_of(book.id), self.push.vapid_public_key
        return [protocol.property_element(tag, topic, key) for tag in props]


def _fill_response(response: ET.Element, props: tuple[str, ...], values: list[ET.Element]) -> None:
    ok: ET.Element | None = None
    for propstat in response.findall(protocol.dav("propstat")):
        prop = propstat.find(protocol.dav("prop"))
        if prop is None:
            continue
        status = propstat.findtext(protocol.dav("status")) or ""
        if ok is None and " 200 " in f"{status} ":
            ok = prop
            continue
        for child in list(prop):
            if child.tag in props:
                prop.remove(child)
        if len(prop) == 0:
            response.remove(propstat)
    if ok is None:
        propstat = ET.Element(protocol.dav("propstat"))
        ok = ET.SubElement(propstat, protocol.dav("prop"))
        ET.SubElement(propstat, protocol.dav("status")).text = "HTTP/1.1 200 OK"
        response.insert(1, propstat)
    for child in list(ok):
        if child.tag in props:
            ok.remove(child)
    ok.extend(values)
