"""The operators' doors in front of everything else: ``/.bridge/health`` for load
balancers and ``/.bridge/metrics`` for Prometheus, neither behind a CardDAV login. Every
other request gets a request id (a proxy's ``X-Request-Id`` when it sends a sane one) that
its log lines and the sync work it causes carry, and, with metrics on, is counted and
timed on its way through."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import health, logs
from .aurinko.calls import Call, CallObserver
from .config import AccountConfig, Config
from .front.wsgi import Environ, StartResponse, WSGIApp
from .metrics import BookCollector, Metrics, MetricsEndpoint
from .metrics.endpoint import PATH as METRICS_PATH
from .sync import SyncEngine

_BRIDGE = "/.bridge/"  # the status page's own requests are not CardDAV's
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # a proxy's id, never a log injection


@dataclass
class Operations:
    """What ``serve`` keeps for its operators: built once from the configuration."""

    answers: health.AurinkoAnswers = field(default_factory=health.AurinkoAnswers)
    metrics: Metrics | None = None
    metrics_token: str | None = None

    @classmethod
    def of(cls, config: Config) -> Operations:
        """Raises ConfigError when ``[metrics] token_file`` cannot be read or is not private."""
        if config.metrics is None:
            return cls()
        return cls(metrics=Metrics(), metrics_token=config.metrics.read_token())

    def observer(self, account: AccountConfig) -> CallObserver:
        if self.metrics is None:
            return self.answers
        counted = self.metrics.account(account.user, account.name)

        def both(call: Call) -> None:
            self.answers(call)
            counted(call)

        return both

    def push_counted(self, sent: bool) -> None:
        if self.metrics is not None:
            self.metrics.push_message(sent)

    def front(
        self,
        app: WSGIApp,
        engine: SyncEngine,
        *,
        is_webhook: Callable[[str], bool] = lambda path: False,
        carddav_loaded: Callable[[], bool] = lambda: True,
    ) -> OperationsFront:
        endpoint = None
        if self.metrics is not None and self.metrics_token is not None:
            self.metrics.registry.register(BookCollector(engine, self.metrics))
            endpoint = MetricsEndpoint(self.metrics, self.metrics_token)
        checks = health.HealthEndpoint(engine, self.answers, carddav_loaded=carddav_loaded)
        return OperationsFront(app, checks, self.metrics, endpoint, is_webhook=is_webhook)


class OperationsFront:
    def __init__(
        self,
        app: WSGIApp,
        health_endpoint: health.HealthEndpoint,
        metrics: Metrics | None = None,
        metrics_endpoint: MetricsEndpoint | None = None,
        *,
        is_webhook: Callable[[str], bool] = lambda path: False,
    ) -> None:
        self.app = app
        self.health = health_endpoint
        self.metrics = metrics
        self.metrics_endpoint = metrics_endpoint
        self.is_webhook = is_webhook

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == health.PATH:
            return self.health(environ, start_response)
        if path == METRICS_PATH and self.metrics_endpoint is not None:
            return self.metrics_endpoint(environ, start_response)
        rid = request_id(environ)
        parts = path.strip("/").split("/")
        book = parts[1] if len(parts) > 1 and not path.startswith(_BRIDGE) else None
        with logs.scope(rid, user=_login(environ), book=book):
            return self.app(environ, self._answering(environ, path, rid, start_response))

    def _answering(
        self, environ: Environ, path: str, rid: str, start_response: StartResponse
    ) -> StartResponse:
        metrics, began = self.metrics, time.perf_counter()
        method = environ.get("REQUEST_METHOD", "")

        def answer(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if metrics is not None and self.is_webhook(path):
                metrics.webhook(status.startswith("2"))
            elif metrics is not None and not path.startswith(_BRIDGE):
                metrics.carddav(method, status, time.perf_counter() - began)
            return start_response(status, [*headers, ("X-Request-Id", rid)], exc_info)

        return answer


def request_id(environ: Environ) -> str:
    """The proxy's ``X-Request-Id`` when it is a sane one (nginx's ``$request_id``), else
    a new one."""
    sent = environ.get("HTTP_X_REQUEST_ID", "")
    return sent if _SANE_ID.fullmatch(sent) else logs.new_request_id()


def _login(environ: Environ) -> str | None:
    """The Basic login's name, for the log lines (checked by the CardDAV application)."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Basic "):
        return None
    try:
        name = base64.b64decode(header[6:], validate=True).split(b":", 1)[0]
        return name.decode("utf-8")[:64] or None
    except (ValueError, UnicodeDecodeError):
        return None
