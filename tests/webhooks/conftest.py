"""An engine over the in-process sandbox with the book ``alice/work``, and a helper that
sends Aurinko-shaped requests straight to a ``WebhookEndpoint`` (a WSGI call, no socket)."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bridge.config import StoreConfig, WebhooksConfig
from bridge.store import Book
from bridge.sync import SyncEngine
from bridge.webhooks import AURINKO, WebhookEndpoint, sign
from tests.sync.conftest import make_engine

SECRET = "whsec-test-0123456789abcdef"
PUBLIC = "https://bridge.example.org"


def webhooks_config(tmp_path: Path, public_url: str = PUBLIC, **fields: Any) -> WebhooksConfig:
    secret = tmp_path / "signing.secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    return WebhooksConfig(public_url=public_url, signing_secret_file=secret, **fields)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Sender:
    """Plays Aurinko against ``endpoint``: signs what it sends unless told otherwise."""

    endpoint: WebhookEndpoint
    secret: str = SECRET
    clock: Callable[[], float] = time.time
    sent: int = field(default=0)

    def post(
        self,
        token: str,
        body: bytes = b'{"resource": "/contacts", "payloads": []}',
        *,
        query: str = "",
        timestamp: str | None = None,
        signature: str | None = None,
        signed: bool = True,
        method: str = "POST",
        path: str | None = None,
    ) -> Answer:
        self.sent += 1
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path if path is not None else AURINKO + token,
            "QUERY_STRING": query,
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/json",
            "wsgi.input": io.BytesIO(body),
            "REMOTE_ADDR": "203.0.113.9",
        }
        if signed:
            when = timestamp if timestamp is not None else str(int(self.clock()))
            environ["HTTP_X_AURINKO_REQUEST_TIMESTAMP"] = when
            environ["HTTP_X_AURINKO_SIGNATURE"] = (
                signature if signature is not None else sign(self.secret, when, body)
            )
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            captured["status"], captured["headers"] = status, headers

        answer = b"".join(self.endpoint(environ, start_response))
        return Answer(int(captured["status"][:3]), dict(captured["headers"]), answer)


@dataclass
class Hooked:
    engine: SyncEngine
    book: Book
    pulls: list[float]  # when each pull of the book began


@pytest.fixture
def hooked(live_sandbox: str, tmp_path: Path, store_config: StoreConfig | None) -> Iterator[Hooked]:
    """The engine with its book pulled once; ``pulls`` counts the pulls from then on."""
    engine = make_engine(tmp_path / "bridge", live_sandbox, store=store_config)
    book = engine.book("alice", "work")
    assert book is not None
    engine.pull(book)
    pulls: list[float] = []
    real = engine._pull_locked

    def counted(*args: Any, **kwargs: Any) -> None:
        pulls.append(time.monotonic())
        real(*args, **kwargs)

    engine._pull_locked = counted  # type: ignore[method-assign]
    yield Hooked(engine, book, pulls)
    engine.close()
