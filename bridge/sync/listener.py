"""Requests from other instances sharing a PostgreSQL store: a ``LISTEN`` on its own
session, each notification handed to a callback. A lost session is opened again."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("bridge.sync")

POLL = 1.0  # how soon a stop is noticed
RECONNECT = 1.0  # wait before opening a lost session again


class Listener:
    def __init__(
        self, connect: Callable[[], Any], channel: str, on_message: Callable[[str], None]
    ) -> None:
        self._connect = connect
        self._channel = channel
        self._on_message = on_message
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # set while a LISTEN is in place

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="bridge-listen", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=POLL * 5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # the server restarted, the network dropped: again
                self.listening.clear()
                log.warning("listening for other instances' requests failed: %s", exc)
                self._stop.wait(RECONNECT)

    def _listen(self) -> None:
        with self._connect() as conn:
            conn.execute(f'LISTEN "{self._channel}"')
            self.listening.set()
            while not self._stop.is_set():
                for notify in conn.notifies(timeout=POLL):
                    self._handle(notify.payload)
        self.listening.clear()

    def _handle(self, payload: str) -> None:
        try:
            self._on_message(payload)
        except Exception:  # one bad request must not end the listening
            log.exception("handling another instance's request %r failed", payload)
