"""An account's token as a running server sees it: read again when its file changes.

``account relink`` renews a dead token by replacing the token file (atomically, see
``bridge.consent.replace_token``); ``serve`` must use the new one at its next call without
a restart, so the book, its sync state and every queued write carry on.
"""

from __future__ import annotations

import logging
import os
import threading

from .config import AccountConfig, ConfigError

log = logging.getLogger("bridge")


class TokenSource:
    """``source()`` is the account's token. The file is read at start (a ConfigError then
    stops the caller); afterwards a stat before each call (a few microseconds) notices a
    replaced file, which is then read once. A file that cannot be read for a moment (being
    replaced, or left broken) keeps the last good token in use."""

    def __init__(self, account: AccountConfig) -> None:
        self._account = account
        self._lock = threading.Lock()
        self._stamp = self._stat()
        self._token = account.read_token()

    def _stat(self) -> tuple[int, int, int, int] | None:
        path = self._account.token_file
        if path is None:  # token_env: fixed for the life of the process
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)

    def __call__(self) -> str:
        stamp = self._stat()
        if stamp is None or stamp == self._stamp:
            return self._token
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._token = self._account.read_token()
                    log.info(
                        "account %s: token file changed; using the new token", self._account.name
                    )
                except ConfigError as exc:
                    log.warning("%s; the token read before stays in use", exc)
                self._stamp = stamp
        return self._token
