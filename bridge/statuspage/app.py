"""``/.bridge/``: the status page ``serve`` shows a logged-in user, and the buttons on it.

The front (``bridge.front``) authenticates the request with the CardDAV server's login
check (the same users and passwords as CardDAV) and hands over the login; a user sees and
acts on their own books only. Forms carry a token derived from the user (a page of another
site cannot post them), and a cross-site ``Origin`` or ``Sec-Fetch-Site`` is refused as
well: Basic credentials are sent by the browser whichever page asks.
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
from ..status import BookStatus, ParkedWrite, collect
from ..store import Book
from ..sync import ConflictGoneError, Keep, SyncEngine, UidConflictError
from ..sync.conflicts import losing_contact
from . import people, render

Environ = dict[str, Any]
StartResponse = Callable[..., Any]

PREFIX = "/.bridge"
MAX_FORM = 4096
_ACTION = re.compile(r"^/(parked|conflicts)/([0-9]{1,18})$")
_NOTICES = {
    "retry": "The refused change will be sent again now.",
    "drop": "The refused change was given up; the card keeps its version here.",
    "settled": "Settled: the card keeps your choices and every other change.",
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
        location = f"{base}?done={done}"
        return _respond(start_response, "303 See Other", b"", [("Location", location)])

    # -- the page -----------------------------------------------------------------------

    def _page(self, user: str, query: str) -> str:
        statuses = collect(self.engine, self.config, owner=user)
        books = [self._book_view(status) for status in statuses]
        return render.page(user, books, self._csrf(user), _notice(query))

    def _book_view(self, status: BookStatus) -> render.BookView:
        book = self.engine.book(status.owner, status.name)
        provider = people.provider_words(status.token.provider)
        if book is None:
            return render.BookView(status, provider)
        conflicts = []
        for kept in status.conflicts:
            view = self._conflict_view(book, kept.id, provider)
            if view is not None:
                conflicts.append(view)
        parked = [self._parked_view(book, p) for p in status.parked]
        held = [self._held_view(book, href) for href in self.engine.store.holding(book.id)]
        return render.BookView(status, provider, conflicts, parked, [h for h in held if h])

    def _conflict_view(
        self, book: Book, conflict_id: int, provider: str
    ) -> people.ConflictView | None:
        conflict = self.engine.outbox.conflict(conflict_id)
        if conflict is None or conflict.book_id != book.id:
            return None
        row = self.engine.store.get(book.id, conflict.href)
        other = losing_contact(conflict)
        return people.conflict_view(conflict, row.contact if row else None, other, provider)

    def _parked_view(self, book: Book, parked: ParkedWrite) -> render.ParkedView:
        op = self.engine.outbox.get(parked.id)
        row = self.engine.store.get(book.id, parked.href)
        what = people.refused_write(op, row.contact if row else None) if op else parked.href
        return render.ParkedView(parked, what)

    def _held_view(self, book: Book, href: str) -> render.HeldView | None:
        row = self.engine.store.get(book.id, href)
        if row is None or not row.held:
            return None
        return render.HeldView(
            people.person(row.contact),
            people.held_fields(row.held),
            people.held_removals(row.held),
        )

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
        return self._conflict(user, item, form)

    def _parked(self, user: str, op_id: int, action: str) -> str:
        op = self.engine.outbox.get(op_id)
        book = self._own_book(user, op.book_id if op else None)
        if book is None or action not in ("retry", "drop"):
            raise Refused("404 Not Found", "Not found", "There is no such refused change.")
        act = self.engine.retry_parked if action == "retry" else self.engine.drop_parked
        if not act(book, op_id):
            raise Refused("409 Conflict", "Already settled", "That change is not refused now.")
        return action

    def _conflict(self, user: str, conflict_id: int, form: dict[str, str]) -> str:
        conflict = self.engine.outbox.conflict(conflict_id)
        book = self._own_book(user, conflict.book_id if conflict else None)
        settle = form.get("settle", "")
        if book is None or settle not in ("choices", *people.SIDES):
            raise Refused("404 Not Found", "Not found", "There is no such conflict.")
        view = self._conflict_view(book, conflict_id, "")
        assert view is not None
        try:
            self.engine.resolve_conflict(book, conflict_id, _keep(view, settle, form))
        except ConflictGoneError:
            raise Refused(
                "409 Conflict", "Already settled", "This conflict was settled already."
            ) from None
        except (MappingError, UidConflictError) as exc:
            raise Refused("409 Conflict", "Cannot keep that version", str(exc)) from None
        return "settled"

    def _own_book(self, user: str, book_id: int | None) -> Book | None:
        if book_id is None:
            return None
        book = self.engine.store.book_by_id(book_id)
        return book if book.owner == user else None

    def _csrf(self, user: str) -> str:
        return hmac.new(self._secret, user.encode("utf-8"), hashlib.sha256).hexdigest()


def _keep(view: people.ConflictView, settle: str, form: dict[str, str]) -> Keep | list[str]:
    """The engine's choice for the form: one side for everything, or a side per field
    (``field:<path>`` = mine / theirs); anything but the two sides is refused."""
    if settle in people.SIDES:
        return Keep.CURRENT if settle == view.kept else Keep.OTHER
    chosen: dict[str, people.Side] = {}
    for row in view.rows:
        if not row.choice:
            continue
        value = form.get(f"field:{row.path}", view.kept)
        if value not in people.SIDES:
            raise Refused("400 Bad Request", "Refused", f"Choose mine or theirs for {row.label}.")
        chosen[row.path] = "mine" if value == "mine" else "theirs"
    if view.whole:
        raise Refused("400 Bad Request", "Refused", "Choose one of the two versions.")
    return view.taking(chosen)


def _same_site(environ: Environ) -> None:
    site = environ.get("HTTP_SEC_FETCH_SITE")
    origin = environ.get("HTTP_ORIGIN")
    cross = site not in (None, "same-origin", "none")
    if origin and origin != "null" and urlsplit(origin).netloc != environ.get("HTTP_HOST"):
        cross = True
    if cross:
        raise Refused("403 Forbidden", "Refused", "A form of another site cannot act here.")


def _notice(query: str) -> str | None:
    done = parse_qs(query).get("done", [""])[0]
    return _NOTICES.get(done)


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
