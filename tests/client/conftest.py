"""A client factory that runs every test twice: in-process and over a loopback socket."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from bridge.aurinko import AurinkoClient, RetryPolicy
from bridge.sandbox import SandboxApp, serve_in_thread
from tests.conftest import TOKEN


class SleepRecorder:
    """Stands in for time.sleep so backoff is observable and costs no wall-clock time."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


ClientFactory = Callable[..., AurinkoClient]


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture(params=["inproc", "socket"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def base_url(mode: str, sandbox_app: SandboxApp) -> Iterator[str]:
    if mode == "inproc":
        yield "http://sandbox.invalid/v1"
        return
    with serve_in_thread(sandbox_app) as running:
        yield running.url


@pytest.fixture
def make_client(
    mode: str, base_url: str, sandbox_app: SandboxApp, sleeps: SleepRecorder
) -> Iterator[ClientFactory]:
    clients: list[AurinkoClient] = []

    def factory(token: str = TOKEN, **kwargs: object) -> AurinkoClient:
        kwargs.setdefault("retry", RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=5))
        kwargs.setdefault("sleep", sleeps)
        if mode == "inproc":
            kwargs.setdefault("transport", httpx.WSGITransport(app=sandbox_app))
        client = AurinkoClient(token, base_url, **kwargs)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: ClientFactory) -> AurinkoClient:
    return make_client()


@pytest.fixture
def make_socket_client(live_sandbox: str, sleeps: SleepRecorder) -> Iterator[ClientFactory]:
    """For what only a real socket shows: timeouts and dropped connections."""
    clients: list[AurinkoClient] = []

    def factory(**kwargs: object) -> AurinkoClient:
        kwargs.setdefault("retry", RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=5))
        client = AurinkoClient(TOKEN, live_sandbox, sleep=sleeps, **kwargs)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()
