"""Radicale's htpasswd backend made safe to edit while ``serve`` runs."""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

import bcrypt
from radicale.auth import AuthContext
from radicale.auth import htpasswd as radicale_htpasswd

_Stamp = tuple[int, int, int] | None


class _NoArgon2Notice(logging.Filter):
    """Radicale's ``autodetect`` warns at every start that argon2 entries would need a module
    that is not installed. The bridge writes bcrypt (and reads SHA-512): the notice only
    alarms a newcomer, twice (Radicale's own backend and this one are both built)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "can require argon2 module" not in str(record.msg)


logging.getLogger("radicale").addFilter(_NoArgon2Notice())


class HtpasswdAuth(radicale_htpasswd.Auth):
    """Radicale's htpasswd backend, safe to edit while it serves (``aurinko-bridge user``).

    - Its login caches are emptied when the file changes (another inode, mtime or size):
      a removed user or an old password is refused from the next request on, not after
      ``cache_successful_logins_expiry`` (15 s), and a new password tried before it was set
      is not refused for ``cache_failed_logins_expiry`` (90 s).
    - ``autodetect`` verifies bcrypt entries even when the file held none at start
      (Radicale wires its bcrypt check up only for entries present then, so a later one
      failed with an AttributeError).
    """

    def __init__(self, configuration: Any) -> None:
        super().__init__(configuration)
        if not hasattr(self, "_verify_bcrypt"):
            self._verify_bcrypt = functools.partial(self._bcrypt, bcrypt)
        self._stamp = self._file_stamp()

    def login(  # type: ignore[misc]  # final in Radicale: the caches are checked in it
        self, login: str, password: str, context: AuthContext
    ) -> tuple[str, str, set[str]]:
        seen = self._forget_if_changed()
        result: tuple[str, str, set[str]] = super().login(login, password, context)
        if self._file_stamp() != seen:
            # Replaced while this login was checked (and cached): check it again.
            self._forget_if_changed()
            result = super().login(login, password, context)
        return result

    def _file_stamp(self) -> _Stamp:
        try:
            info = os.stat(self._filename)
        except OSError:
            return None
        return info.st_ino, info.st_mtime_ns, info.st_size

    def _forget_if_changed(self) -> _Stamp:
        stamp = self._file_stamp()
        with self._lock:  # the lock Radicale holds while it walks its caches
            if stamp != self._stamp:
                self._stamp = stamp
                if self._cache_logins:
                    self._cache_successful.clear()
                    self._cache_failed.clear()
        return stamp
