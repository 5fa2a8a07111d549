"""One account link attempt: the one-shot loopback server the browser comes back to after
consenting at Aurinko, and what is done with its answer (the code traded for a token, the
token written to a private file, the account added to the configuration).

Single use: the first callback carrying the attempt's ``state`` decides it, whatever it
says; every failure leaves the configuration and the token files as they were. A callback
without that state (stale, or forged by any local process or web page that finds the port)
gets 400 and a log line, and decides nothing: the real one can still come.
"""

from __future__ import annotations

import hmac
import html
import logging
import os
import secrets
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from . import configedit
from .aurinko import AurinkoError, BadRequestError, UnauthorizedError
from .aurinko.oauth import LinkedAccount, exchange_code
from .config import AurinkoApp, Config, ConfigError
from .private import PRIVATE_FILE, private_dir, write_private

RESTART = "restart `aurinko-bridge serve` (it reads the accounts when it starts)"

log = logging.getLogger("bridge.consent")


class LinkFailed(Exception):
    """One line for stderr; nothing was changed."""


class Interrupted:
    """Ctrl-C before the link was made."""


def wait_for_outcome(linker: Linker, timeout: float) -> Outcome | Interrupted | None:
    deadline = time.monotonic() + timeout
    try:
        while not linker.done.wait(max(0.0, min(0.5, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                break
    except KeyboardInterrupt:
        outcome = linker.close()
        return Interrupted() if outcome is None else outcome
    outcome = linker.close()
    if outcome is not None:
        linker.done.wait(5.0)  # let the browser have its page
    return outcome


@dataclass(frozen=True)
class Outcome:
    error: str | None  # one line for stderr, or None: linked
    report: tuple[str, ...] = ()


@dataclass(frozen=True)
class Page:
    status: int
    title: str
    text: str


class Linker:
    """The one link attempt: checks the callback, trades the code, writes the token and the
    configuration. Single use: the first callback with the right state ends it; one with
    another state, or none, is refused and changes nothing."""

    def __init__(
        self,
        *,
        config: Config,
        app: AurinkoApp,
        secret: str,
        entry: Mapping[str, str],
        token_path: Path,
        user: str,
    ) -> None:
        self.state = secrets.token_urlsafe(32)
        self.done = threading.Event()  # set once the deciding callback got its page
        self._config, self._app, self._secret = config, app, secret
        self._entry, self._token_path, self._user = entry, token_path, user
        self._lock = threading.Lock()
        self._outcome: Outcome | None = None
        self._closed = False

    @property
    def decided(self) -> bool:
        return self._outcome is not None

    def close(self) -> Outcome | None:
        """No callback is taken from now on; the outcome if one came (waits for a link
        being made to finish)."""
        with self._lock:
            self._closed = True
            return self._outcome

    def answer(self, query: Mapping[str, list[str]]) -> Page:
        if not self._ours(query):
            # Not this attempt's browser: whoever sent it must not end the attempt.
            log.warning(
                "account add: a callback without this link attempt's state was refused"
                " (stale or forged); still waiting for the browser"
            )
            return Page(400, "Not this link attempt", _NOT_OURS)
        with self._lock:
            if self._closed or self._outcome is not None:
                return Page(400, "Link attempt over", "Start `aurinko-bridge account add` again.")
            page, self._outcome = self._decide(query)
            return page

    def _ours(self, query: Mapping[str, list[str]]) -> bool:
        """Whether the callback carries this attempt's state (compared in constant time)."""
        state = (query.get("state") or [""])[0]
        return bool(state) and hmac.compare_digest(state.encode(), self.state.encode())

    def _decide(self, query: Mapping[str, list[str]]) -> tuple[Page, Outcome]:
        """The outcome of the callback carrying this attempt's state."""

        def one(key: str) -> str:
            values = query.get(key) or [""]
            return values[0]

        error_code, status = one("error"), one("status")
        if error_code or (status and status != "success"):
            reason = _clean(error_code or f"status {status}")
            detail = _clean(one("error_description") or one("message"))
            said = f"{reason}: {detail}" if detail else reason
            if error_code == "access_denied":
                line = f"consent was denied ({said})"
            else:
                line = f"Aurinko did not link the account ({said})"
            page = Page(
                200,
                "Linking cancelled",
                "Linking was cancelled; nothing was changed. You can close this window.",
            )
            return page, Outcome(line)
        code = one("code")
        if not code:
            error = "the browser came back with neither a code nor an error; nothing was changed"
            return Page(400, "Invalid callback", error), Outcome(error)
        try:
            report = self._link(code)
        except (LinkFailed, AurinkoError, ConfigError) as exc:
            line = str(exc)
            return Page(502, "Linking failed", line), Outcome(line)
        except OSError as exc:
            line = f"cannot write {exc.filename or 'a file'}: {exc.strerror}; nothing was changed"
            return Page(500, "Linking failed", line), Outcome(line)
        except Exception as exc:  # one line, never a traceback
            line = f"unexpected {type(exc).__name__}; nothing was changed"
            return Page(500, "Linking failed", line), Outcome(line)
        name = self._entry["name"]
        page = Page(
            200, "Account linked", f"{self._user}/{name} is linked; you can close this window."
        )
        return page, Outcome(None, report)

    def _link(self, code: str) -> tuple[str, ...]:
        assert self._app.client_id is not None and self._config.path is not None
        try:
            linked = exchange_code(self._app.base_url, self._app.client_id, self._secret, code)
        except UnauthorizedError as exc:
            raise LinkFailed(
                f"Aurinko refused the application's credentials ([aurinko] client_id,"
                f" client_secret_file): {exc}; nothing was changed"
            ) from None
        except BadRequestError as exc:
            raise LinkFailed(f"Aurinko refused the code: {exc}; nothing was changed") from None
        except AurinkoError as exc:
            raise LinkFailed(
                f"the code could not be exchanged: {exc}; nothing was changed"
            ) from None
        return self._save(linked)

    def _save(self, linked: LinkedAccount) -> tuple[str, ...]:
        """Keep what the exchange gave: a new token file and ``[[accounts]]`` table."""
        assert self._config.path is not None
        _write_token(self._token_path, linked)
        try:
            configedit.add_account(self._config.path, self._entry)
        except BaseException:
            self._token_path.unlink(missing_ok=True)
            raise
        name, where = self._entry["name"], self._config.path
        account = f" (Aurinko account {linked.account_id})" if linked.account_id is not None else ""
        return (
            f"Linked {self._user}/{name}{account}.",
            f"Added [[accounts]] {self._user}/{name} to {where};"
            f" its token is in {self._entry['token_file']}.",
            f"Next: {RESTART}, to start syncing it.",
        )


class Relinker(Linker):
    """The consent of an account already configured, run with its Aurinko ``accountId``
    (the vendor's authorize: "for re-authorizing an existing account"): the new token
    replaces the old one in its file, atomically; the configuration, the book, its sync
    state and the queued writes stay as they are, and a running ``serve`` uses the new
    token at its next call (``bridge.tokens.TokenSource``)."""

    def __init__(self, *, account_id: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._account_id = account_id

    def _save(self, linked: LinkedAccount) -> tuple[str, ...]:
        label = f"{self._user}/{self._entry['name']}"
        if linked.account_id is not None and linked.account_id != self._account_id:
            raise LinkFailed(
                f"Aurinko linked another account ({linked.account_id}, not {self._account_id}):"
                f" the consent was given for another mailbox; {label} was not changed (remove"
                f" Aurinko account {linked.account_id} in Aurinko's portal if it is not wanted)"
            )
        replace_token(self._token_path, linked)
        return (
            f"Relinked {label} (Aurinko account {self._account_id});"
            f" its new token is in {self._entry['token_file']}.",
            "A running `aurinko-bridge serve` uses it from its next call on; queued writes"
            " go up then.",
        )


_NOT_OURS = (
    "This address was opened without the state of the link attempt under way (a stale or"
    " forged callback); nothing was changed."
)


def _clean(text: str, limit: int = 200) -> str:
    """Words from the browser's address, safe for one terminal line."""
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _write_token(path: Path, linked: LinkedAccount) -> None:
    """A new file, 0600 from its creation in a 0700 folder; an existing one is never
    overwritten."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE)
    except FileExistsError:
        raise LinkFailed(f"{path} already exists; nothing was changed") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(linked.access_token + "\n")
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def replace_token(path: Path, linked: LinkedAccount) -> None:
    """Put the new token in place of the old one at once (``private.write_private``)."""
    write_private(path, (linked.access_token + "\n").encode("utf-8"))


class CallbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], linker: Linker) -> None:
        self.linker = linker
        super().__init__(address, _CallbackHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a browser that went away: nothing to report, and never a traceback


class _CallbackHandler(BaseHTTPRequestHandler):
    server: CallbackServer
    server_version = "aurinko-bridge"
    sys_version = ""
    timeout = 30  # a connection opened but never used (browsers open spares)

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/callback":
            self._send(Page(404, "Not found", "Nothing here."))
            return
        linker = self.server.linker
        try:
            page = linker.answer(urllib.parse.parse_qs(url.query, keep_blank_values=True))
            self._send(page)
        finally:
            if linker.decided:
                linker.done.set()

    def _send(self, page: Page) -> None:
        title = html.escape(page.title)
        body = (
            '<!doctype html>\n<html><head><meta charset="utf-8">'
            f"<title>{title}</title></head>\n<body><h1>{title}</h1>\n"
            f"<p>{html.escape(page.text)}</p></body></html>\n"
        ).encode()
        self.send_response(page.status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'none'")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request lines carry the code: never printed
