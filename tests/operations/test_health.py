"""/.bridge/health: what a load balancer asks, answered without a login."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bridge.sandbox import SandboxApp
from tests.cli.serving import start_serve, stop_serve
from tests.folder.conftest import eventually
from tests.operations.conftest import Served, write_config
from tests.postgres import PostgresServer, running_postgres


def check(url: str, query: str = "") -> httpx.Response:
    """As HAProxy's ``option httpchk`` or nginx's health check asks: no login."""
    return httpx.get(f"{url}.bridge/health{query}", timeout=30)


@pytest.mark.parametrize("store_backend", ["sqlite"], indirect=True)
def test_healthy_without_a_login_and_naming_nothing(served: Served) -> None:
    answer = check(served.url)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}
    assert answer.headers["cache-control"] == "no-store"
    with served.client() as client:  # the first pull answered by Aurinko
        assert client.request("PROPFIND", "/alice/work/", headers={"Depth": "1"}).status_code == 207
    ready = check(served.url, "?ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["aurinko_reachable"] is True
    assert body["books_owned"] is None  # SQLite: every instance syncs any book
    assert body["aurinko_answered_seconds_ago"] is not None
    for secret in ("alice", "work", "token", served.sandbox.config.db_path):
        assert secret not in ready.text


def test_ready_says_when_aurinko_stopped_answering(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/v1", metrics=False)
    process, url = start_serve(config)
    try:
        httpx.request(  # a read asks for a pull, which finds Aurinko unreachable
            "PROPFIND", url + "alice/work/", headers={"Depth": "1"}, auth=("alice", "alice-pw")
        )
        eventually(lambda: check(url, "?ready").status_code == 503, what="not ready")
        ready = check(url, "?ready").json()
        plain = check(url)
    finally:
        stop_serve(process)
    assert ready["aurinko_reachable"] is False
    assert set(ready["failing"]) == {"aurinko"}
    assert plain.status_code == 200  # it still serves the store: healthy, not ready


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, to stop and start again."""
    with running_postgres() as server:
        yield server


def test_the_check_fails_while_the_store_is_down_and_recovers(
    own_postgres: PostgresServer,
    sandbox_app: SandboxApp,
    live_sandbox: str,
    tmp_path: Path,
) -> None:
    store = own_postgres.new_store()
    config = write_config(tmp_path, live_sandbox, store=store, metrics=False)
    process, url = start_serve(config)
    try:
        assert check(url).status_code == 200
        own_postgres.halt()
        eventually(lambda: check(url).status_code == 503, timeout=30, what="503 on an outage")
        down = check(url)
        own_postgres.resume()
        eventually(lambda: check(url).status_code == 200, timeout=60, what="200 once it is back")
        with httpx.Client(base_url=url, auth=("alice", "alice-pw"), timeout=30) as client:
            listing = client.request("PROPFIND", "/alice/work/", headers={"Depth": "1"})
    finally:
        err = stop_serve(process)
    body = json.loads(down.text)
    assert body["status"] == "unavailable"
    assert set(body["failing"]) == {"store"}
    assert store.url.split("?")[0] not in down.text and "bridge" not in down.text
    assert listing.status_code == 207  # and it serves again
    assert "Traceback" not in err, err
