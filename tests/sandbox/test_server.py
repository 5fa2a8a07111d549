"""``serve_in_thread``: the running server's interface, and many threads at once."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from bridge.sandbox import SandboxApp, SandboxConfig, serve_in_thread
from bridge.sandbox.config import FaultConfig
from tests.sandbox.conftest import TOKEN, Api, create, run_chain, start_sync


def test_running_sandbox_exposes_url_port_app_and_stops() -> None:
    config = SandboxConfig(db_path=":memory:", tokens=[TOKEN])
    with serve_in_thread(config) as running:
        assert isinstance(running.app, SandboxApp)
        assert running.url == f"http://127.0.0.1:{running.port}/v1"
        assert running.port > 0
        client = Api(running.app, "socket", running).client()
        assert client.get("/contacts").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{running.url}/contacts", trust_env=False, timeout=2)
    running.stop()  # idempotent


def test_a_served_app_stays_open_for_its_owner(app: SandboxApp) -> None:
    running = serve_in_thread(app)
    running.stop()
    assert app.dump(TOKEN) == []  # the caller's app was not closed


def test_concurrent_writers_and_readers(app: SandboxApp) -> None:
    with serve_in_thread(app) as running:
        api = Api(app, "socket", running)
        clients = [api.client() for _ in range(8)]
        status = start_sync(clients[0])

        def work(index: int) -> list[str]:
            client = clients[index]
            ids = []
            for n in range(10):
                contact = create(client, {"nickName": f"{index}-{n}"})
                assert client.get(f"/contacts/{contact['id']}").status_code == 200
                ids.append(contact["id"])
            return ids

        with ThreadPoolExecutor(max_workers=8) as pool:
            created = [cid for ids in pool.map(work, range(8)) for cid in ids]
        assert len(set(created)) == 80
        records, _, _ = run_chain(clients[0], "updated", status["syncUpdatedToken"])
        assert sorted(r["id"] for r in records) == sorted(created)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", 431),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
    ],
    ids=["too-many-headers", "uri-too-long"],
)
def test_malformed_http_gets_the_envelope_too(app: SandboxApp, raw: bytes, status: int) -> None:
    with (
        serve_in_thread(app) as running,
        socket.create_connection(("127.0.0.1", running.port)) as conn,
    ):
        conn.sendall(raw)
        conn.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == str(status).encode()
    assert b"application/json" in head
    assert set(json.loads(body)) == {"code", "message", "requestId"}


def test_requests_are_not_logged_to_stderr(
    app: SandboxApp, capfd: pytest.CaptureFixture[str]
) -> None:
    with serve_in_thread(app) as running:
        client = Api(app, "socket", running).client()
        create(client)
        client.get("/contacts/unknown")
    assert capfd.readouterr().err == ""


def test_a_request_stuck_in_the_app_does_not_hold_up_another(app: SandboxApp) -> None:
    """Connections are served at once, also when idle workers are reused."""
    inside, release = threading.Event(), threading.Event()

    def stuck_clock() -> float:
        inside.set()
        release.wait(5)
        return time.time()

    with serve_in_thread(app) as running, ThreadPoolExecutor(max_workers=1) as pool:
        client = Api(app, "socket", running).client()
        assert client.get("/contacts").status_code == 200  # leaves an idle worker
        app.set_clock(stuck_clock)
        stuck = pool.submit(create, client)  # a write reads the clock
        assert inside.wait(5)
        assert client.get("/contacts/unknown").status_code == 404
        release.set()
        assert stuck.result(timeout=5)["id"]
        app.set_clock(None)


def test_sequential_connections_reuse_workers(app: SandboxApp) -> None:
    def workers() -> int:
        return sum(t.name == "aurinko-sandbox-worker" for t in threading.enumerate())

    before = workers()
    with serve_in_thread(app) as running:
        client = Api(app, "socket", running).client()
        for _ in range(20):
            response = client.get("/contacts", headers={"Connection": "close"})
            assert response.status_code == 200
        # One connection per request, but not a thread each: the next connection can
        # arrive while the last worker is still closing its socket, so two take turns.
        assert workers() - before <= 3


def test_a_connection_serves_request_after_request(app: SandboxApp) -> None:
    with serve_in_thread(app) as running:
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        conn.request("POST", "/v1/contacts", body=b'{"nickName": "a"}', headers=headers)
        created = conn.getresponse()
        assert created.status == 201 and not created.will_close
        contact = json.loads(created.read())
        sock = conn.sock
        for _ in range(3):
            conn.request("GET", f"/v1/contacts/{contact['id']}", headers=headers)
            response = conn.getresponse()
            assert response.status == 200 and json.loads(response.read())["nickName"] == "a"
        assert conn.sock is sock
        conn.close()


def test_a_dropped_request_closes_its_kept_alive_connection(app: SandboxApp) -> None:
    app.set_faults(FaultConfig(drop_rate=1.0))
    with (
        serve_in_thread(app) as running,
        socket.create_connection(("127.0.0.1", running.port)) as conn,
    ):
        conn.sendall(
            f"GET /v1/contacts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
        )
        conn.settimeout(5)
        assert conn.recv(100) == b""  # closed with no answer, not left open
