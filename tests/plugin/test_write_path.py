"""The write path at the real service's speed: a PUT or DELETE answers once the store and
the outbox hold it, never waiting for Aurinko, and a request holds only its own book's
lock, so one user's write never stalls another user's request."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

import bridge.mapping.parse
import bridge.sync.writes
import radicale_plugin.context
from bridge.aurinko import AurinkoClient
from bridge.config import ConfigError, load_config
from bridge.mapping import ParsedCard
from bridge.sandbox import SandboxApp
from bridge.store import ItemMeta
from radicale_plugin.rwlock import KeyedRWLocks
from radicale_plugin.storage import book_key
from tests.conftest import TOKEN
from tests.plugin.conftest import (
    FAST,
    NS,
    Server,
    card,
    mkcol_book,
    report,
    responses,
    running_server,
)
from tests.wait import eventually

# Long enough to tell "answered at once" from "waited for Aurinko", which would then
# take the 60 s the test lets a read wait (a hang detector, not a timing assertion).
HANG = 15.0

SYNC = (
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}'
    "</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop>"
    "</D:sync-collection>"
)


class HeldWrites(httpx.HTTPTransport):
    """Aurinko that takes every write but answers it only once ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.waiting = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method in ("POST", "PATCH", "DELETE") and "/sync" not in request.url.path:
            self.waiting.set()
            self.release.wait(60)
        return super().handle_request(request)


@pytest.fixture
def held(server: Server, live_sandbox: str) -> Iterator[HeldWrites]:
    transport = HeldWrites()
    client = AurinkoClient(TOKEN, live_sandbox, retry=FAST, transport=transport)
    server.engine.clients[server.book.id] = client
    # A read may wait for Aurinko as long as it likes: only a write must not.
    server.engine.options = replace(server.engine.options, request_wait=60)
    yield transport
    transport.release.set()


def sync_token(server: Server, token: str = "") -> tuple[str, list[str]]:
    response = report(server.alice, server.book_url, SYNC.format(token=token))
    assert response.status_code == 207, response.text
    tree = ET.fromstring(response.content)
    return tree.findtext("D:sync-token", namespaces=NS) or "", list(responses(tree))


def drained(server: Server) -> bool:
    eventually(lambda: not server.engine.outbox.count(server.book.id), what="an empty outbox")
    return True


def test_put_answers_before_aurinko_does(server: Server, held: HeldWrites) -> None:
    token, _ = sync_token(server)
    url = server.book_url + "ann.vcf"
    response = server.alice.put(url, content=card("uid-ann", "Ann Example"), timeout=HANG)
    assert response.status_code == 201, response.text
    assert held.waiting.wait(10), "the push never started"
    assert server.engine.outbox.count(server.book.id) == 1  # durable, Aurinko still thinking
    got = server.alice.get(url, timeout=HANG)
    assert got.status_code == 200 and "FN:Ann Example" in got.text
    assert got.headers["etag"] == response.headers["etag"]

    held.release.set()
    assert drained(server)
    upstream = server.sandbox.dump(TOKEN)
    assert [c["name"]["displayName"] for c in upstream] == ["Ann Example"]
    # Whatever Aurinko's answer changed reaches the client through the sync token.
    _, hrefs = sync_token(server, token)
    assert any(h.endswith("/ann.vcf") for h in hrefs)


def test_delete_answers_before_aurinko_does(server: Server, held: HeldWrites) -> None:
    url = server.book_url + "bob.vcf"
    held.release.set()
    assert server.alice.put(url, content=card("uid-bob", "Bob Example")).status_code == 201
    assert drained(server)
    held.release.clear()
    held.waiting.clear()
    response = server.alice.delete(url, timeout=HANG)
    assert response.status_code in (200, 204), response.text
    assert held.waiting.wait(10)
    assert server.alice.get(url, timeout=HANG).status_code == 404
    assert len(server.sandbox.dump(TOKEN)) == 1  # not yet deleted upstream
    held.release.set()
    assert drained(server)
    assert server.sandbox.dump(TOKEN) == []


def test_a_held_book_never_stalls_another_users_book(server: Server) -> None:
    bob_book = f"{server.url}bob/personal/"
    mkcol_book(server.bob, bob_book)
    assert server.bob.put(bob_book + "c.vcf", content=card("uid-c", "Carl")).status_code == 201
    alice_read: list[int] = []

    def read_alice() -> None:
        alice_read.append(server.alice.get(server.book_url + "x.vcf", timeout=HANG).status_code)

    with server.running.storage.acquire_lock("w", "alice", path="/alice/work/x.vcf"):
        reader = threading.Thread(target=read_alice)
        reader.start()
        # bob's book is another lock: his reads and writes go on while alice's is held.
        got = server.bob.get(bob_book + "c.vcf", timeout=HANG)
        assert got.status_code == 200
        put = server.bob.put(bob_book + "d.vcf", content=card("uid-d", "Dora"), timeout=HANG)
        assert put.status_code == 201
        assert server.bob.delete(bob_book + "c.vcf", timeout=HANG).status_code in (200, 204)
        assert alice_read == []  # alice's own book waits for its writer
    reader.join(HANG)
    assert alice_read == [404]


def test_book_key_names_the_book_a_path_touches() -> None:
    assert book_key("/alice/work/x.vcf") == "alice/work"
    assert book_key("/alice/work/") == "alice/work"
    assert book_key("alice/work") == "alice/work"
    assert book_key("/alice/./x/../work//y.vcf") == "alice/work"  # as Radicale reads it
    assert book_key("/alice/") is None
    assert book_key("/") is None
    assert book_key(None) is None


def test_keyed_locks_share_reads_exclude_writes_and_forget_idle_books() -> None:
    locks = KeyedRWLocks()
    entered = threading.Event()

    def write_same_book() -> None:
        with locks.hold("alice/work", exclusive=True):
            entered.set()

    with locks.hold("alice/work", exclusive=False), locks.hold("alice/work", exclusive=False):
        with locks.hold("bob/home", exclusive=True):  # another book: no wait
            pass
        writer = threading.Thread(target=write_same_book)
        writer.start()
        assert not entered.wait(0.2)  # the writer waits for the readers of its book
    writer.join(HANG)
    assert entered.is_set()
    assert len(locks) == 0


def test_write_wait_is_an_opt_in_that_answers_with_aurinkos_version(
    sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path
) -> None:
    with running_server(sandbox_app, live_sandbox, tmp_path, write_wait=30) as server:
        url = server.book_url + "ann.vcf"
        assert server.alice.put(url, content=card("uid-ann", "Ann")).status_code == 201
        row = server.engine.store.get(server.book.id, "ann.vcf")  # no wait: it was confirmed
        assert row is not None and row.remote_id is not None
        assert server.engine.outbox.count(server.book.id) == 0


@pytest.mark.parametrize(
    ("line", "expected"), [("", 0.0), ("write_wait = 2\n", 2.0), ("write_wait = 0\n", 0.0)]
)
def test_write_wait_is_read_from_the_sync_section(
    tmp_path: Path, line: str, expected: float
) -> None:
    path = tmp_path / "bridge.toml"
    path.write_text(f"[sync]\nrequest_wait = 5\n{line}", encoding="utf-8")
    config = load_config(path)
    assert (config.write_wait, config.request_wait) == (expected, 5.0)


def test_a_negative_write_wait_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bridge.toml"
    path.write_text("[sync]\nwrite_wait = -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="write_wait"):
        load_config(path)


AGENT_CARD = (
    "BEGIN:VCARD\r\nVERSION:2.1\r\nUID:boss-1\r\nFN:Boss\r\nAGENT:\r\nBEGIN:VCARD\r\n"
    "VERSION:2.1\r\nFN:Assistant\r\nEND:VCARD\r\nEND:VCARD\r\n"
)


@pytest.mark.parametrize(
    ("label", "body"), [("one card", card("once-1", "Once")), ("an embedded card", AGENT_CARD)]
)
def test_a_put_reads_its_card_once_and_its_row_once_before_the_engine(
    server: Server, monkeypatch: pytest.MonkeyPatch, label: str, body: str
) -> None:
    """The wrapper reads a body of several BEGIN:VCARD lines to say why it would refuse it;
    the storage stores that reading instead of reading the body again. The card's row is
    looked up once for Radicale's checks, its upload included (the engine reads it again
    inside its transaction, where a pull may have changed it)."""
    parses: list[str] = []
    looks: list[str] = []
    real_parse, real_meta = bridge.mapping.parse.from_vcard, server.engine.store.meta

    def parse(text: str | bytes, **kwargs: Any) -> ParsedCard:
        parses.append(label)
        return real_parse(text, **kwargs)

    def meta(book_id: int, href: str) -> ItemMeta | None:
        looks.append(href)
        return real_meta(book_id, href)

    for module in (bridge.sync.writes, radicale_plugin.context):
        monkeypatch.setattr(module, "from_vcard", parse)
    monkeypatch.setattr(server.engine.store, "meta", meta)
    answer = server.alice.put(f"{server.book_url}once.vcf", content=body.encode())
    assert answer.status_code == 201, answer.text
    assert (parses, looks) == ([label], ["once.vcf"])
