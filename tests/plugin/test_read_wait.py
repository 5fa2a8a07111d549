"""A CardDAV read of an Aurinko-backed book waits for its pull ``request_wait`` at most in
all, however many times Radicale takes the read lock while answering it (issue 21, point 8:
a PROPFIND Depth 1 took 4.0 s with ``request_wait`` 2 while Aurinko was down).

Each look asks for a pull and may wait for it; whether a second look waited again used to
depend on whether the run had started a moment before or after the first wait began. The
runner here never finishes a pull in time and reports every run as just begun, the worst
the scheduler can do; the waits one request makes add up to ``request_wait`` at most."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.sandbox import SandboxApp
from tests.plugin.conftest import Server, card, running_server

REQUEST_WAIT = 0.4
SYNC = (
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token/>'
    "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"
)
MULTIGET = (
    '<?xml version="1.0"?><CR:addressbook-multiget xmlns:D="DAV:"'
    ' xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><CR:address-data/>'
    "</D:prop><D:href>/alice/work/ann.vcf</D:href></CR:addressbook-multiget>"
)
PROPFIND = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>'
)


class Waits:
    """The timeouts the requests' waits for pulls were given."""

    def __init__(self) -> None:
        self.given: list[float] = []
        self._never = threading.Event()

    def wait(self, book_id: int, ticket: int, timeout: float) -> bool:
        self.given.append(timeout)
        return self._never.wait(timeout)  # the pull does not end in time


@pytest.fixture
def slow(sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path) -> Iterator[Server]:
    with running_server(sandbox_app, live_sandbox, tmp_path, request_wait=REQUEST_WAIT) as server:
        put = server.alice.put(server.book_url + "ann.vcf", content=card("ann", "Ann"))
        assert put.status_code == 201, put.text
        yield server


@pytest.mark.parametrize(
    ("method", "path", "depth", "body"),
    [
        ("PROPFIND", "", "1", PROPFIND),
        ("REPORT", "", "1", SYNC),
        ("REPORT", "", "1", MULTIGET),
        ("GET", "ann.vcf", "0", ""),
        ("PROPFIND", "ann.vcf", "0", PROPFIND),
    ],
    ids=["propfind-depth-1", "sync-collection", "multiget", "get", "propfind-card"],
)
def test_a_read_waits_request_wait_in_all(
    slow: Server, monkeypatch: pytest.MonkeyPatch, method: str, path: str, depth: str, body: str
) -> None:
    waits = Waits()
    monkeypatch.setattr(slow.engine.runner, "wait", waits.wait)
    monkeypatch.setattr(slow.engine.runner, "busy_for", lambda book_id: 0.0)
    answer = slow.alice.request(
        method, slow.book_url + path, headers={"Depth": depth}, content=body
    )
    assert answer.status_code in (200, 207), answer.text
    assert "ann" in answer.text
    assert waits.given, "the read did not wait for its pull at all"
    assert sum(waits.given) <= REQUEST_WAIT, waits.given


def test_each_request_has_its_own_wait(slow: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    waits = Waits()
    monkeypatch.setattr(slow.engine.runner, "wait", waits.wait)
    monkeypatch.setattr(slow.engine.runner, "busy_for", lambda book_id: 0.0)
    for _ in range(2):
        got = slow.alice.get(slow.book_url + "ann.vcf")
        assert got.status_code == 200, got.text
    assert len(waits.given) == 2 and min(waits.given) > REQUEST_WAIT / 2, waits.given
