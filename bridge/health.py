"""``/.bridge/health``: whether this instance can serve, for a load balancer's checks.

No login and no user, book or account data in the answer: a load balancer asks, and
whoever else asks learns only that the instance is up. The store is asked on another
thread with a deadline, so a store that hangs (a black-holed PostgreSQL) makes the check
answer 503 in time instead of hanging the load balancer's probe; one such question at a
time, however many probes come.

``?ready`` adds what a load balancer may route by: whether Aurinko answered this
instance recently and how many books it syncs (on PostgreSQL, each book has one owner).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .aurinko.calls import Call, CallOutcome
from .front.wsgi import Environ, StartResponse
from .sync import SyncEngine

PATH = "/.bridge/health"
STORE_TIMEOUT = 2.0  # seconds the store has to answer a check

log = logging.getLogger("bridge.health")


class AurinkoAnswers:
    """When Aurinko last answered any call of this instance (any status: it answered),
    and when a call last found it unreachable. A ``CallObserver``."""

    def __init__(self) -> None:
        self.answered: float | None = None
        self.failed: float | None = None

    def __call__(self, call: Call) -> None:
        if call.outcome in (CallOutcome.TIMEOUT, CallOutcome.NETWORK):
            self.failed = time.time()
        else:
            self.answered = time.time()

    def unreachable(self) -> bool:
        """A call failed to reach Aurinko since it last answered."""
        return self.failed is not None and (self.answered is None or self.failed > self.answered)


class StoreProbe:
    """Asks the store on a thread of its own; a probe still hanging answers "no"."""

    def __init__(self, engine: SyncEngine, timeout: float = STORE_TIMEOUT) -> None:
        self.engine = engine
        self.timeout = timeout
        self._lock = threading.Lock()
        self._running: threading.Thread | None = None
        self._result: str | None = None

    def check(self) -> str | None:
        """None when the store answered; else why not, in words that name nothing."""
        with self._lock:
            if self._running is not None and self._running.is_alive():
                return f"the store has not answered for over {self.timeout:g} s"
            done = threading.Event()
            self._running = threading.Thread(
                target=self._ask, args=(done,), name="bridge-health", daemon=True
            )
            self._running.start()
        if not done.wait(self.timeout):
            return f"the store did not answer within {self.timeout:g} s"
        return self._result

    def _ask(self, done: threading.Event) -> None:
        try:
            self.engine.db.ping(self.timeout)
            self._result = None
        except Exception as exc:  # whatever it is, the store cannot serve: say 503
            log.warning("health check: the store did not answer: %s", exc)
            self._result = "the store is unreachable"
        done.set()


class HealthEndpoint:
    def __init__(
        self,
        engine: SyncEngine,
        answers: AurinkoAnswers,
        *,
        carddav_loaded: Callable[[], bool] = lambda: True,
    ) -> None:
        self.engine = engine
        self.answers = answers
        self.carddav_loaded = carddav_loaded
        self.store = StoreProbe(engine)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        failing: dict[str, str] = {}
        store = self.store.check()
        if store is not None:
            failing["store"] = store
        if not self.carddav_loaded():
            failing["carddav"] = "the CardDAV application is not loaded"
        body: dict[str, Any] = {"status": "unavailable" if failing else "ok"}
        if failing:
            body["failing"] = failing
        if "ready" in environ.get("QUERY_STRING", "").split("&"):
            body.update(self._readiness())
            if not body["aurinko_reachable"]:
                failing.setdefault("aurinko", "Aurinko did not answer this instance's last call")
                body["status"], body["failing"] = "unavailable", failing
        status = "503 Service Unavailable" if failing else "200 OK"
        data = (json.dumps(body) + "\n").encode()
        start_response(
            status,
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(data))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [data]

    def _readiness(self) -> dict[str, Any]:
        owned = self.engine.instances.owned()  # PostgreSQL: one owner per book
        answered = self.answers.answered
        return {
            "books_owned": len(owned) if owned is not None else None,
            "aurinko_reachable": not self.answers.unreachable(),
            "aurinko_answered_seconds_ago": (
                None if answered is None else round(time.time() - answered, 1)
            ),
        }
