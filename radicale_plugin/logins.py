"""Password checks outside Radicale's own request handling, by Radicale's auth backend.

Two uses. Before a CardDAV request's body is read, the wrapper asks who sent it; a refusal
there is not reported, because Radicale is then shown the request and refuses it itself.
The bridge's own doors (the status page under ``/.bridge/`` and WebDAV-Push registration)
answer without Radicale, so a refused password there is reported as Radicale reports one
(Radicale 3.9, ``app/__init__.py``, ``_handle_request``): the same warning on the same
logger, so one fail2ban filter matches every door (README), and a wait of ``[auth] delay``
times a random factor from 0.5 to 1.5, so a guess costs as much at every door. The wait is
the request's own (its thread, no lock held): other requests go on meanwhile.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from radicale.auth import AuthContext

from .direct import basic_credentials

Environ = dict[str, Any]

# Radicale's own logger, so the line reads (and is filtered) exactly like Radicale's.
radicale_log = logging.getLogger("radicale")


@dataclass(frozen=True)
class Checked:
    login: str  # the name as sent
    user: str  # as Radicale names the user; "" when refused
    info: str  # the backend's word on it, e.g. "htpasswd / cached"


def remote_host(environ: Environ) -> str:
    """The client as Radicale names it in its log lines."""
    host = "unknown"
    if environ.get("REMOTE_HOST"):
        host = repr(environ["REMOTE_HOST"])
    if environ.get("REMOTE_ADDR") and host == "unknown":
        host = str(environ["REMOTE_ADDR"])
    if environ.get("HTTP_X_FORWARDED_FOR"):
        host = f"{host} (forwarded for {environ['HTTP_X_FORWARDED_FOR']!r})"
    return host


class Logins:
    """Radicale's application's auth backend and ``[auth] delay``, asked about a request."""

    def __init__(self, radicale: Any) -> None:
        self.auth = radicale._auth
        self.configuration = radicale.configuration
        self.delay: float = radicale._auth_delay

    def check(self, environ: Environ) -> Checked | None:
        """The Basic credentials the request carries, checked (with ``cache_logins`` on,
        Radicale's own check of the same request is then a cache hit); None without any.
        Radicale decodes the header the same way."""
        credentials = basic_credentials(environ, self.configuration)
        if credentials is None or not credentials[0]:
            return None
        login, password = credentials
        context = AuthContext()
        if environ.get("REMOTE_ADDR"):
            context.remote_addr = environ["REMOTE_ADDR"]
        if environ.get("HTTP_X_REMOTE_ADDR"):
            context.x_remote_addr = environ["HTTP_X_REMOTE_ADDR"]
        result = self.auth.login(login, password, context)
        user, info = (str(result[0] or ""), str(result[1])) if result else ("", "")
        return Checked(login, user, info)

    def user(self, environ: Environ) -> str | None:
        """Who sent the request, if their password holds; refusals are left to Radicale."""
        checked = self.check(environ)
        return checked.user if checked is not None and checked.user else None

    def at_door(self, environ: Environ) -> str | None:
        """Who sent the request, for a door Radicale does not answer: a refused password
        is logged and waited out as Radicale does on CardDAV."""
        checked = self.check(environ)
        if checked is None:
            return None
        if not checked.user:
            self.refused(environ, checked)
            return None
        return checked.user

    def refused(self, environ: Environ, checked: Checked) -> None:
        radicale_log.warning(
            "Failed login attempt from %s: %r (%s)",
            remote_host(environ),
            checked.login,
            checked.info,
        )
        if self.delay > 0:
            wait = self.delay * (0.5 + random.random())
            radicale_log.debug("Failed login, sleeping random: %.3f sec", wait)
            time.sleep(wait)
