"""``/.bridge/``: the status page ``serve`` shows a logged-in user, and the buttons on it.

The CardDAV front end authenticates the request (the same users and passwords as
CardDAV) and hands over the login; a user sees and acts on their own books only. Forms
carry a token derived from the user (a page of another site cannot post them), and a
cross-site ``Origin`` or ``Sec-Fetch-Site`` is refused as well: Basic credentials are
sent by the browser whichever page asks.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..config import Config
from ..httpserver import read_body
from ..mapping import MappingError
from ..status import collect
from ..store import Book
from ..sync import ConflictGoneError, Keep, SyncEngine, UidConflictError
from ..sync.conflicts import losing_card
from . import render

Environ = dict[str, Any]
StartResponse = Callable[..., Any]

PREFIX = "/.bridge"
MAX_FORM = 4096
_ACTION = re.compile(r"^/(parked|conflicts)/([0-9]{1,18})$")
_NOTICES = {
    "retry": "Write #{id} will be sent to Aurinko again now.",
    "drop": "Write #{id} was given up; the card keeps its version here.",
    "current": "Conflict #{id} settled: the address book's version stays.",
    "other": "Conflict #{id} settled: the other version was written back and goes to Aurinko.",
}
_HEADERS = [
    ("Cache-Control", "no-store"),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'",
    ),
]


class Refused(Exception):
    def __init__(self, status: str, title: str, text: str) -> None:
        super().__init__(text)
        self.status, self.title, self.text = status, title, text


def handles(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class StatusPage:
    """A WSGI application over the engine; ``__call__`` takes the authenticated login."""

    def __init__(self, engine: SyncEngine, config: Config) -> None:
        self.engine = engine
        self.config = config
        self._secret = secrets.token_bytes(32)  # a restart invalidates open pages' forms

    def __call__(
        self, environ: Environ, start_response: StartResponse, user: str | None
    ) -> Iterable[bytes]:
        base = environ.get("SCRIPT_NAME", "").rstrip("/") + PREFIX + "/"
        if user is None:
            headers = [("WWW-Authenticate", 'Basic realm="Aurinko bridge", charset="UTF-8"')]
            refusal = Refused("401 Unauthorized", "Log in", "Log in with your CardDAV user.")
            return _error(start_response, refusal, base, headers)
        try:
            return self._route(environ, start_response, user, base)
        except Refused as refused:
            return _error(start_response, refused, base)

    def _route(
        self, environ: Environ, start_response: StartResponse, user: str, base: str
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")[len(PREFIX) :]
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if path == "":
            return _respond(start_response, "301 Moved Permanently", b"", [("Location", base)])
        if path == "/":
            if method not in ("GET", "HEAD"):
                raise Refused("405 Method Not Allowed", "Not allowed", f"{method} is not used here")
            html = self._page(user, environ.get("QUERY_STRING", ""))
            body = b"" if method == "HEAD" else html.encode("utf-8")
            return _respond(start_response, "200 OK", body, [_HTML])
        match = _ACTION.match(path)
        if match is None:
            raise Refused("404 Not Found", "Not found", "There is no such page.")
        if method != "POST":
            raise Refused("405 Method Not Allowed", "Not allowed", "Use the buttons on the page.")
        form = self._form(environ, user)
        done = self._act(user, match.group(1), int(match.group(2)), form)
        location = f"{base}?done={done}&id={match.group(2)}"
        return _respond(start_response, "303 See Other", b"", [("Location", location)])

    # -- the page -----------------------------------------------------------------------

    def _page(self, user: str, query: str) -> str:
        statuses = collect(self.engine, self.config, owner=user)
        views: dict[int, render.ConflictView] = {}
        for status in statuses:
            book = self.engine.book(status.owner, status.name)
            for kept in status.conflicts:
                if book is not None:
                    views[kept.id] = self._view(book, kept)
        return render.page(user, statuses, views, self._csrf(user), _notice(query))

    def _view(self, book: Book, kept: Any) -> render.ConflictView:
        row = self.engine.store.get(book.id, kept.href)
        conflict = self.engine.outbox.conflict(kept.id)
        version = row.version if row else book.vcard_version
        other = losing_card(conflict, version, row.uid if row else None) if conflict else None
        return render.ConflictView(kept, row.vcard if row else None, other)

    # -- the buttons --------------------------------------------------------------------

    def _form(self, environ: Environ, user: str) -> dict[str, str]:
        _same_site(environ)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_FORM:
            raise Refused("413 Request Entity Too Large", "Refused", "The form is too large.")
        raw = read_body(environ, length)
        if isinstance(raw, tuple):
            raise Refused(raw[0], "Refused", raw[1])
        fields = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        if not hmac.compare_digest(fields.get("csrf", ""), self._csrf(user)):
            raise Refused(
                "403 Forbidden", "Refused", "The form is out of date: reload the page and retry."
            )
        return fields

    def _act(self, user: str, kind: str, item: int, form: dict[str, str]) -> str:
        if kind == "parked":
            return self._parked(user, item, form.get("action", ""))
        return self._conflict(user, item, form.get("keep", ""))

    def _parked(self, user: str, op_id: int, action: str) -> str:
        op = self.engine.outbox.get(op_id)
        book = self._own_book(user, op.book_id if op else None)
        if book is None or action not in ("retry", "drop"):
            raise Refused("404 Not Found", "Not found", f"There is no refused write #{op_id}.")
        act = self.engine.retry_parked if action == "retry" else self.engine.drop_parked
        if not act(book, op_id):
            raise Refused("409 Conflict", "Already settled", f"Write #{op_id} is not parked.")
        return action

    def _conflict(self, user: str, conflict_id: int, side: str) -> str:
        conflict = self.engine.outbox.conflict(conflict_id)
        book = self._own_book(user, conflict.book_id if conflict else None)
        if book is None or side not in ("current", "other"):
            raise Refused("404 Not Found", "Not found", f"There is no conflict #{conflict_id}.")
        try:
            self.engine.resolve_conflict(book, conflict_id, Keep(side))
        except ConflictGoneError as exc:
            raise Refused("409 Conflict", "Already settled", str(exc)) from None
        except (MappingError, UidConflictError) as exc:
            raise Refused("409 Conflict", "Cannot keep that version", str(exc)) from None
        return side

    def _own_book(self, user: str, book_id: int | None) -> Book | None:
        if book_id is None:
            return None
        book = self.engine.store.book_by_id(book_id)
        return book if book.owner == user else None

    def _csrf(self, user: str) -> str:
        return hmac.new(self._secret, user.encode("utf-8"), hashlib.sha256).hexdigest()


def _same_site(environ: Environ) -> None:
    site = environ.get("HTTP_SEC_FETCH_SITE")
    origin = environ.get("HTTP_ORIGIN")
    cross = site not in (None, "same-origin", "none")
    if origin and origin != "null" and urlsplit(origin).netloc != environ.get("HTTP_HOST"):
        cross = True
    if cross:
        raise Refused("403 Forbidden", "Refused", "A form of another site cannot act here.")


def _notice(query: str) -> str | None:
    params = parse_qs(query)
    done, ident = params.get("done", [""])[0], params.get("id", [""])[0]
    if done not in _NOTICES or not ident.isdigit():
        return None
    return _NOTICES[done].format(id=int(ident))


_HTML = ("Content-Type", "text/html; charset=utf-8")


def _respond(
    start_response: StartResponse, status: str, body: bytes, headers: list[tuple[str, str]]
) -> Iterable[bytes]:
    start_response(status, [*headers, *_HEADERS, ("Content-Length", str(len(body)))])
    return [body]


def _error(
    start_response: StartResponse,
    refused: Refused,
    base: str,
    headers: list[tuple[str, str]] | None = None,
) -> Iterable[bytes]:
    body = render.message(refused.title, refused.text, base).encode("utf-8")
    return _respond(start_response, refused.status, body, [_HTML, *(headers or [])])
