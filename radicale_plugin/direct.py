"""What the WSGI wrapper answers from the store without Radicale's request machinery.

A GET of one card costs Radicale's whole request handling (logins, principal discovery,
path checks, an item object) around a lookup that takes a tenth of the time; a multiget
walks every href through the same machinery. Here the wrapper asks Radicale's own parts
(its auth backend, its rights backend, its path and user checks, the storage's lock and
discover) the questions Radicale would ask, in the same order, and answers what Radicale
would answer. Anything it cannot decide exactly as Radicale does goes to Radicale: these
methods then return None.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from radicale import httputils, pathutils, xmlutils
from radicale.app import base as app_base
from radicale.auth import AuthContext

from . import listing
from .collections import BookCollection
from .items import http_date

Environ = dict[str, Any]
StartResponse = Callable[..., Any]

logger = logging.getLogger("radicale")

# Radicale treats a request carrying any of these as come through a reverse proxy, and may
# then strip the mount point from the path (``app/__init__.py``).
_PROXY_HEADERS = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_SERVER",
)


def basic_credentials(environ: Environ, configuration: Any) -> tuple[str, str] | None:
    """The login and password of a Basic ``Authorization`` header, decoded as Radicale
    decodes them; None without one, or for one Radicale would fail on."""
    header: str = environ.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Basic"):
        return None
    try:
        raw = base64.b64decode(header[len("Basic") :].strip().encode("ascii"))
        text: str = httputils.decode_request(configuration, environ, raw)
        login, password = text.split(":", 1)
    except (ValueError, UnicodeError, binascii.Error):
        return None
    return login, password


class DirectAnswers:
    """Radicale's answers to a card GET and the setup of a streamed multiget, given by
    asking ``radicale`` (the wrapped ``radicale.app.Application``) for its parts."""

    def __init__(self, radicale: Any) -> None:
        self.radicale = radicale
        self.storage = radicale._storage
        self.configuration = radicale.configuration
        # Radicale's format checks, remembered: they cost more than the rest of a GET.
        self._path_chars: set[str] = set()  # characters its path check accepts
        self._logins: dict[str, bool] = {}  # login -> whether its user check accepts it

    # -- what Radicale would make of the request ------------------------------------------

    def path(self, environ: Environ) -> str | None:
        """The request's path as Radicale sanitizes it; None where Radicale would refuse it
        or read it otherwise (behind a proxy that mounts it below a prefix)."""
        prefix = str(environ.get("HTTP_X_SCRIPT_NAME", environ.get("SCRIPT_NAME", "")))
        if prefix and not prefix.startswith("/"):
            return None  # Radicale's 400 or 500
        proxied = any(environ.get(header) for header in _PROXY_HEADERS)
        if proxied and (prefix or self.radicale._script_name):
            return None
        path: str = pathutils.sanitize_path(str(environ.get("PATH_INFO", "")))
        if "/." in path or not self._path_format(path):
            return None  # .well-known, .web, .token...: Radicale's own; or refused
        return path

    def _path_format(self, path: str) -> bool:
        """Radicale's ``_check_path_format``. Unless "strict" (one regular expression), it
        judges a trailing blank, then each character alone: those it accepted are kept
        (each asked about with a letter after it, which every mode accepts, so that the
        trailing-blank rule does not judge a blank inside the path)."""
        validation = self.radicale._validate_path_value
        if validation == "strict" or path.endswith(" "):
            return bool(app_base._check_path_format(self.storage, path, validation))
        for char in set(path) - self._path_chars:
            if not app_base._check_path_format(self.storage, char + "a", validation):
                return False
            self._path_chars.add(char)
        return True

    def _login_format(self, login: str) -> bool:
        """Radicale's ``_check_user_format`` of ``login``, which depends on it alone."""
        known = self._logins.get(login)
        if known is None:
            radicale = self.radicale
            known = bool(
                app_base._check_user_format(
                    self.storage, login, radicale._validate_user_value, radicale._urldecode_username
                )
            )
            if len(self._logins) > 1024:
                self._logins.clear()  # bounded: logins are few, attempts may not be
            self._logins[login] = known
        return known

    def identity(self, environ: Environ) -> tuple[str, set[str]] | None:
        """The user and groups Radicale would serve the request as; None for anonymous or
        refused requests and for logins other than Basic's, which Radicale answers."""
        radicale = self.radicale
        if radicale._auth.get_external_login(environ):
            return None
        credentials = basic_credentials(environ, self.configuration)
        if credentials is None or not credentials[0]:
            return None
        login, password = credentials
        if not self._login_format(login):
            return None
        context = AuthContext()  # as Radicale fills it in, for backends that read it
        if environ.get("REMOTE_ADDR"):
            context.remote_addr = environ["REMOTE_ADDR"]
        if environ.get("HTTP_X_REMOTE_ADDR"):
            context.x_remote_addr = environ["HTTP_X_REMOTE_ADDR"]
        user, _, groups = radicale._auth.login(login, password, context) or ("", "", set())
        if not user or not pathutils.is_safe_path_component(user):
            return None
        if self.configuration.get("group", "type") == "htgroup":
            groups = radicale._group.groups(login)
        return str(user), set(groups)

    def book(self, path: str) -> BookCollection | None:
        """The address book at ``path`` (``/user/book/``), from the storage as Radicale gets it."""
        found = next(iter(self.storage.discover(path)), None)
        return found if isinstance(found, BookCollection) else None

    # -- REPORT and addressbook-multiget -----------------------------------------------------

    def decoded(self, environ: Environ, body: bytes) -> str | None:
        """A request body as Radicale decodes it (``httputils.decode_request``), or None
        where it fails to."""
        try:
            text: str = httputils.decode_request(self.configuration, environ, body)
        except (UnicodeError, LookupError):
            return None
        return text

    def multiget(
        self, environ: Environ, root: ET.Element | None, version: str | None
    ) -> listing.Listing | None:
        """The multiget ``root`` (``listing.report_root``) to stream, its book set, if
        Radicale's answer to the stand-in it is then shown is its answer for the book."""
        path = self.path(environ)
        parts = [p for p in path.strip("/").split("/") if p] if path else []
        stand_in = listing.MULTIGET_STAND_IN
        if (
            len(parts) != 2
            or self.radicale._sharing._enabled
            or self.decoded(environ, stand_in) != stand_in.decode()  # a charset of its own
        ):
            return None
        prefix = listing.base_prefix(environ)
        found = listing.multiget_listing(root, version, prefix, "/".join(parts))
        if found is not None:
            found.book = self.book(f"/{parts[0]}/{parts[1]}/")
        return found if found is not None and found.book is not None else None

    # -- GET and HEAD of one card ----------------------------------------------------------

    def get(
        self, environ: Environ, start_response: StartResponse, method: str, version: str | None
    ) -> Iterable[bytes] | None:
        """Radicale's answer to a GET or HEAD of one card it would serve (``app/get.py``),
        the card read in one query; None for anything else."""
        began = time.monotonic()
        readable = self._readable(environ)
        if readable is None:
            return None
        parts, user = readable
        with self.storage.acquire_lock("r", user):  # its freshness pull too
            card = self._card(parts, version)
        if card is None:
            return None  # Radicale's 404
        answer = self._answer(environ, start_response, method, *card)
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "%s response status for %r in %.3f seconds: 200 OK (from the store)",
                method,
                environ.get("PATH_INFO", ""),
                time.monotonic() - began,
            )
        return answer

    def _readable(self, environ: Environ) -> tuple[list[str], str] | None:
        """The parts of a plain request's card path (``user/book/href``) and the user, if
        Radicale would let the user read a card there."""
        path = self.path(environ)
        parts = [p for p in path.strip("/").split("/") if p] if path else []
        plain = not environ.get("QUERY_STRING") and environ.get("CONTENT_LENGTH") in (None, "", "0")
        if len(parts) != 3 or not plain or self.radicale._sharing._enabled:
            return None
        who = self.identity(environ)
        # ``Access.check("r", item)`` matches an item's own permissions against nothing:
        # only "r" on its collection grants it (and implies the request's own check).
        parent = f"/{parts[0]}/{parts[1]}/"
        if who is None or "r" not in self.radicale._rights.authorization(*who, parent):
            return None  # Radicale's 401 or 403
        return parts, who[0]

    def _card(self, parts: list[str], version: str | None) -> tuple[str, str, str] | None:
        """The text, etag and date of the card at ``parts``, read in one query; the text
        rendered from the stored contact if another version was asked for."""
        store = self.storage.bridge.engine.store
        stored = store.card_at(*parts)
        if stored is None:
            return None
        text = stored.vcard
        if version and version != stored.version:
            book = self.book(f"/{parts[0]}/{parts[1]}/")
            text = book.text_of(version, stored) if book is not None else ""
        return text, stored.etag, http_date(stored.last_modified)

    def _answer(
        self,
        environ: Environ,
        start_response: StartResponse,
        method: str,
        text: str,
        etag: str,
        last_modified: str,
    ) -> Iterable[bytes]:
        """The headers and body Radicale sends for a card (``do_GET``, then ``response``)."""
        encoding: str = self.radicale._encoding
        headers = {
            "Content-Type": f"{xmlutils.OBJECT_MIMETYPES['VCARD']}; charset={encoding}",
            "Last-Modified": last_modified,
            "ETag": etag,
        }
        answer = text.encode(encoding)
        accepted = [e.strip() for e in environ.get("HTTP_ACCEPT_ENCODING", "").split(",")]
        if "gzip" in accepted:  # the same bytes as Radicale's compressobj, in half the time
            answer = zlib.compress(answer, wbits=16 + zlib.MAX_WBITS)
            headers["Content-Encoding"] = "gzip"
        headers["Content-Length"] = str(len(answer))
        headers.update(self.radicale._extra_headers)
        start_response("200 OK", list(headers.items()))
        return [] if method == "HEAD" else [answer]
