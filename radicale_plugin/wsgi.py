"""A thin WSGI wrapper around Radicale's application.

It keeps what Radicale throws away: the PUT body exactly as the client sent it (Radicale
re-serializes it through vobject, which mangles real cards), the vCard version the client
asked for (Radicale does not negotiate), and the reason for a refused card (Radicale
answers a bare "Bad Request"). It also drops the PUT reply's ETag when the stored card is
not what the client sent, so the client fetches the stored one (RFC 6352 practice).

No request body is read before its request is authenticated (issue 11): the wrapper asks
Radicale's own auth backend first, and an unauthenticated request reaches Radicale without
its body, for Radicale's own 401. A card larger than the bridge stores is refused unread.

Listings (PROPFIND Depth 1, sync-collection, addressbook-multiget) are streamed into
Radicale's answer from the store (``listing``), and a GET of one card is answered from the
store with Radicale's own login, rights and headers (``direct``).
"""

from __future__ import annotations

import gzip
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

from bridge.front.seams import AnswerHooks, Login
from bridge.front.wsgi import Environ, StartResponse, WSGIApp, content_length, plain
from bridge.httpserver import read_body
from bridge.mapping import DEFAULT_LIMITS, MappingError

from . import listing
from .context import RequestContext, SentCard, request_scope
from .direct import DirectAnswers
from .logins import Logins

CARDDAV = "urn:ietf:params:xml:ns:carddav"
# iOS: "iOS/17.2 (21C62) dataaccessd/1.0"; macOS: "macOS/14.2 (23C64) AddressBookCore/2664".
_APPLE_AGENT = re.compile(r"dataaccessd/|AddressBookCore/|AddressBook/", re.IGNORECASE)
_VERSION_PARAM = re.compile(r"version\s*=\s*\"?([0-9.]+)", re.IGNORECASE)
_FN_LINE = re.compile(rb"^([A-Za-z0-9-]+\.)?FN[;:]", re.IGNORECASE | re.MULTILINE)
_END = re.compile(rb"^END:VCARD", re.IGNORECASE | re.MULTILINE)
_FOLD = re.compile(rb"\r?\n[ \t]")
# The stand-in's lines, found with or without a group (RFC 2426 allows one even on BEGIN and
# END) and shown to Radicale without it: its vobject refuses a grouped UID.
_GROUP = rb"^(?:[A-Za-z0-9-]+\.)?"
_CARD_BEGIN = re.compile(_GROUP + rb"BEGIN:VCARD", re.IGNORECASE | re.MULTILINE)
_CARD_END = re.compile(_GROUP + rb"END:VCARD", re.IGNORECASE | re.MULTILINE)
_UID_LINE = re.compile(_GROUP + rb"(UID[;:].*)$", re.IGNORECASE | re.MULTILINE)
_VERSION_LINE = re.compile(_GROUP + rb"(VERSION:.*)$", re.IGNORECASE | re.MULTILINE)
STAND_IN_LIMIT = 1024 * 1024  # larger bodies go whole, so Radicale's size limit applies

_REASON_STATUSES = ("400", "403", "409", "412", "413")
_NO_CARD = "the request body holds no vCard: a card is BEGIN:VCARD, its properties, END:VCARD"
# The body of a request whose answer is streamed: if Radicale's answer cannot take the cards
# (never seen), it is asked again, listing them itself (a multiget's stand-in aside).
_WHOLE_BODY = "aurinko_bridge.listed_body"


def accepted_version(accept: str) -> str | None:
    """``Accept: text/vcard; version=4.0`` -> "4.0" (the first vCard type that names one)."""
    for part in accept.split(","):
        if "vcard" in part.lower():
            match = _VERSION_PARAM.search(part)
            if match and match.group(1) in ("3.0", "4.0"):
                return match.group(1)
    return None


def agent_version(environ: Environ) -> str | None:
    """The version a client reads without saying so: Apple's Contacts (iOS, iPadOS, macOS)
    read vCard 3.0 only and never ask, so a card another client wrote in 4.0 reaches them
    converted."""
    return "3.0" if _APPLE_AGENT.search(environ.get("HTTP_USER_AGENT", "")) else None


def report_version(root: ET.Element | None) -> str | None:
    """The ``version`` of ``<CR:address-data>`` in a REPORT (``listing.report_root``)."""
    if root is None:
        return None
    for element in root.iter(f"{{{CARDDAV}}}address-data"):
        version = element.get("version")
        if version in ("3.0", "4.0"):
            return version
    return None


def for_radicale(body: bytes) -> bytes:
    """What Radicale's validator sees of a PUT body. It parses the whole card with vobject
    only to check it and read its UID; the bridge stores the card from the raw body, parsed
    by its own mapping. So a one-card body is shown to Radicale as a stand-in with the same
    VERSION and UID lines (its UID and precondition checks work unchanged) at a fraction of
    the cost. Anything else goes through whole, with a placeholder FN if it has none (many
    real exports lack FN, which Radicale refuses; the bridge derives it from N, ORG or EMAIL)."""
    stand_in = _stand_in(body) if len(body) <= STAND_IN_LIMIT else None
    if stand_in is not None:
        return stand_in
    if _FN_LINE.search(body):
        return body
    return _END.sub(b"FN:-\r\nEND:VCARD", body, count=1)


def refusal(sent: SentCard) -> str | None:
    """Why a PUT body with several BEGIN:VCARD lines is not one card, in the mapping's words
    (Radicale's vobject would refuse it with a bare "Bad Request"); None for a body the
    mapping reads, such as a 2.1 card with an embedded AGENT card (its reading is kept in
    ``sent``: the storage stores it without reading the body again)."""
    if len(_CARD_BEGIN.findall(_FOLD.sub(b"", sent.body))) < 2:
        return None
    try:
        sent.parsed()
    except MappingError as exc:
        return str(exc)
    return None


def _stand_in(body: bytes) -> bytes | None:
    unfolded = _FOLD.sub(b"", body)
    if len(_CARD_BEGIN.findall(unfolded)) != 1 or len(_CARD_END.findall(unfolded)) != 1:
        return None
    uid, version = _UID_LINE.findall(unfolded), _VERSION_LINE.findall(unfolded)
    if len(uid) != 1 or len(version) != 1:
        return None  # Radicale's own answer to these is the one to give
    return b"BEGIN:VCARD\r\n%s\r\n%s\r\nFN:-\r\nEND:VCARD\r\n" % (
        version[0].rstrip(),
        uid[0].rstrip(b"\r"),
    )


class BridgeMiddleware:
    """The CardDAV application: Radicale, wrapped. ``bridge.front`` routes the bridge's
    own doors and bounds request bodies before a request gets here."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        stream_listings: bool = True,
        logins: Logins | None = None,
        max_card: int = DEFAULT_LIMITS.max_bytes,
        hooks: AnswerHooks | None = None,
    ) -> None:
        """``stream_listings=False`` leaves listings and card GETs to Radicale (the
        reference in tests).
        ``logins`` are asked who sent a request before any body is read (by default, the
        wrapped Radicale application's auth backend); ``max_card`` bounds a PUT's body.
        ``hooks`` add to Radicale's answers (WebDAV-Push's properties, ``bridge.push``)."""
        self.app = app
        self.stream_listings = stream_listings
        self.direct = DirectAnswers(app)
        self.logins = logins or Logins(app)
        # Before a CardDAV request: a refusal is Radicale's to log and wait out, as it
        # answers the request itself.
        self.login: Login = self.logins.user
        self.max_card = max_card
        self.hooks = hooks

    def authenticate(self, environ: Environ) -> bool:
        return self.login(environ) is not None

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "").upper()
        length = content_length(environ)
        if method == "PUT" and length > self.max_card:  # the store would refuse it anyway
            reason = f"the card is {length} bytes; at most {self.max_card} are accepted"
            return plain(start_response, "413 Request Entity Too Large", reason)
        if length and not self.authenticate(environ):
            # Radicale gives its own answer (401) to the request without its body; the
            # server skips a small body it has invited, or else closes the connection.
            environ["wsgi.input"] = io.BytesIO(b"")
            environ["CONTENT_LENGTH"] = "0"
            return self.app(environ, start_response)
        ctx = RequestContext(path=environ.get("PATH_INFO", ""))
        if method in ("PUT", "REPORT", "PROPFIND"):
            body = read_body(environ, length)
            if isinstance(body, tuple):
                return plain(start_response, *body)
            radicale_body = body
            if method == "PUT":
                ctx.sent = SentCard(body)
                ctx.no_card = not _CARD_BEGIN.search(_FOLD.sub(b"", body))
                radicale_body = for_radicale(body)
                refused = refusal(ctx.sent) if radicale_body is body else None
                if refused is not None:
                    return plain(start_response, "400 Bad Request", refused)
            elif method == "REPORT":
                radicale_body = self._report(environ, body, ctx)
            else:
                ctx.listing = listing.propfind_listing(body, environ.get("HTTP_DEPTH", "0"))
                if self.hooks is not None:
                    self.hooks.asked(environ, body)
            if not self.stream_listings:
                ctx.listing = None
            if ctx.listing is not None:
                environ[_WHOLE_BODY] = body
            environ["wsgi.input"] = io.BytesIO(radicale_body)
            environ["CONTENT_LENGTH"] = str(len(radicale_body))
        elif method in ("GET", "HEAD"):
            accept = environ.get("HTTP_ACCEPT", "")
            ctx.vcard_version = accepted_version(accept) or agent_version(environ)
        with request_scope(ctx):
            if method in ("GET", "HEAD") and self.stream_listings:
                answer = self.direct.get(environ, start_response, method, ctx.vcard_version)
                if answer is not None:
                    return answer
            return self._respond(environ, start_response, ctx, method)

    def _report(self, environ: Environ, body: bytes, ctx: RequestContext) -> bytes:
        """What Radicale is shown of a REPORT (a multiget's stand-in, or the body), once
        ``ctx`` holds the vCard version asked for and the listing to stream."""
        root = listing.report_root(self.direct.decoded(environ, body))
        ctx.vcard_version = report_version(root) or agent_version(environ)
        ctx.listing = listing.sync_listing(root, ctx.vcard_version)
        if ctx.listing is not None or not self.stream_listings:
            return body
        with request_scope(ctx):  # the book it finds is kept for Radicale's own look
            ctx.listing = self.direct.multiget(environ, root, ctx.vcard_version)
        return body if ctx.listing is None else listing.MULTIGET_STAND_IN

    def _respond(
        self, environ: Environ, start_response: StartResponse, ctx: RequestContext, method: str
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        if self.hooks is not None:
            self.hooks.writing(environ, method)
        answer = b"".join(self.app(environ, capture))
        status: str = captured["status"]
        headers: list[tuple[str, str]] = list(captured["headers"])
        if self.hooks is not None:
            answer, headers = self.hooks.respond(
                environ, method, status, headers, answer, self.login
            )
        if method == "HEAD":  # Radicale already sized it as the GET it mirrors
            start_response(status, headers)
            return []
        if ctx.listing is not None and ctx.listing.book is not None and status.startswith("207"):
            streamed = self._stream(environ, start_response, status, headers, answer, ctx)
            if streamed is not None:
                return streamed
            return self._ask_whole(environ, start_response, ctx, method)

        reason = ctx.outcome.error  # the storage's, when it refused the card
        if method == "PUT" and ctx.no_card and status.startswith("400") and not reason:
            reason = _NO_CARD  # after Radicale's login and rights checks, never before
        if method == "PUT" and ctx.outcome.stored_differs and status.startswith("2"):
            headers = [(k, v) for k, v in headers if k.lower() != "etag"]
        if reason and status.startswith(_REASON_STATUSES):
            answer = (reason + "\n").encode("utf-8")
            replaced = ("content-type", "content-encoding")  # Radicale may have gzipped its own
            headers = [(k, v) for k, v in headers if k.lower() not in replaced]
            headers.append(("Content-Type", "text/plain; charset=utf-8"))

        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(answer))))
        start_response(status, headers)
        return [answer]

    def _ask_whole(
        self, environ: Environ, start_response: StartResponse, ctx: RequestContext, method: str
    ) -> Iterable[bytes]:
        """Radicale's own answer to the whole request, the cards listed by it."""
        body: bytes = environ.pop(_WHOLE_BODY)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        ctx.listing = None
        return self._respond(environ, start_response, ctx, method)

    def _stream(
        self,
        environ: Environ,
        start_response: StartResponse,
        status: str,
        headers: list[tuple[str, str]],
        answer: bytes,
        ctx: RequestContext,
    ) -> Iterable[bytes] | None:
        """Radicale's answer for the collection, with the cards streamed into it. Its length
        is not known in advance: the connection's end marks the end of the answer."""
        assert ctx.listing is not None
        packed = any(k.lower() == "content-encoding" and v == "gzip" for k, v in headers)
        cut = listing.split_answer(gzip.decompress(answer) if packed else answer)
        if cut is None:
            return None
        parts = listing.responses(ctx.listing, listing.base_prefix(environ))
        chunks = listing.spliced(cut[0], parts, cut[1])
        dropped = ("content-length", "content-encoding")
        headers = [(k, v) for k, v in headers if k.lower() not in dropped]
        if packed:  # the client takes gzip, and Radicale packed its part: so is the rest
            headers.append(("Content-Encoding", "gzip"))
            chunks = listing.gzipped(chunks)
        start_response(status, headers)
        return chunks
