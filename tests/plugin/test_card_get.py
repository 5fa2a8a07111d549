"""A GET of one card is answered from the store exactly as Radicale answers it.

Each request goes to two servers over the same engine: the bridge as it runs, where the
wrapper answers a card's GET itself, and the same server with that off, where Radicale's
own GET handler answers. Status, body and headers must be the same; the bridge's Radicale
counts the GETs that reach its handler, so that a test sees which way a request went.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.config import StoreConfig
from bridge.store import ContactRow, ContactStore, open_database
from radicale_plugin import runtime
from tests.plugin.conftest import Server, card
from tests.running_server import RunningServer

HEADERS = (
    "content-type",
    "etag",
    "last-modified",
    "content-length",
    "content-encoding",
    "content-disposition",
    "www-authenticate",
)
LOCAL = "/alice/work/local%20card.vcf"


@pytest.fixture
def reference(server: Server, tmp_path: Path) -> Iterator[str]:
    """A second server over the same engine, where Radicale answers every GET itself."""
    config = runtime.bridge_for(f"test:{tmp_path}").config
    with RunningServer(
        config, server.engine, f"reference:{tmp_path}", stream_listings=False
    ) as ref:
        yield ref.url


@pytest.fixture
def radicale_gets(server: Server, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the GETs and HEADs that reach the bridge's Radicale handler."""
    radicale = server.running.wrapper.app
    handler = radicale.do_GET
    calls: list[str] = []

    def counted(environ: dict[str, Any], base_prefix: str, path: str, *args: Any) -> Any:
        calls.append(path)
        return handler(environ, base_prefix, path, *args)

    monkeypatch.setattr(radicale, "do_GET", counted)  # HEAD goes through it too
    return calls


def _fill(server: Server) -> str:
    """A card pulled from Aurinko and a local one; the pulled one's path."""
    server.remote.create({"name": {"displayName": "Zoë & <Co>"}, "notes": "n"})
    server.engine.pull(server.book)
    text = card("uid-local", "Local", "NOTE:a&b<c>").encode()
    assert server.alice.put(LOCAL, content=text).status_code == 201
    pulled = [row.href for row in server.engine.store.list_items(server.book.id)]
    return "/alice/work/" + next(href for href in pulled if href != "local card.vcf")


def _same(
    server: Server,
    reference: str,
    method: str,
    path: str,
    user: tuple[str, str] | None = ("alice", "alice-pw"),
    **headers: str,
) -> httpx.Response:
    """The bridge's answer, checked against Radicale's own."""
    answers = []
    for url in (server.url, reference):
        with httpx.Client(base_url=url, auth=user, timeout=30) as client:
            answers.append(client.request(method, path, headers=headers))
    mine, theirs = answers
    assert (mine.status_code, mine.content) == (theirs.status_code, theirs.content)
    assert [mine.headers.get(h) for h in HEADERS] == [theirs.headers.get(h) for h in HEADERS]
    return mine


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Accept": "text/vcard; version=4.0"},
        {"Accept": "text/vcard; version=3.0"},
        {"User-Agent": "iOS/17.2 (21C62) dataaccessd/1.0"},
        {"Accept-Encoding": "gzip"},
        {"If-None-Match": "*"},  # Radicale's GET ignores preconditions
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_card_is_answered_from_the_store_as_radicale_answers(
    server: Server,
    reference: str,
    radicale_gets: list[str],
    method: str,
    headers: dict[str, str],
) -> None:
    pulled = _fill(server)
    for path in (pulled, LOCAL, "/alice/work/%6Cocal%20card.vcf"):
        answer = _same(server, reference, method, path, **headers)
        assert answer.status_code == 200 and answer.headers["etag"]
        version = "4.0" if "4.0" in headers.get("Accept", "") else "3.0"
        if method == "GET":
            assert f"VERSION:{version}" in answer.text
    assert radicale_gets == []  # every one answered by the wrapper


def test_a_converted_card_keeps_its_etag(server: Server, reference: str) -> None:
    _fill(server)
    plain = _same(server, reference, "GET", LOCAL)
    converted = _same(server, reference, "GET", LOCAL, Accept="text/vcard; version=4.0")
    assert converted.headers["etag"] == plain.headers["etag"]
    assert "VERSION:4.0" in converted.text and "VERSION:3.0" in plain.text


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/alice/work/nobody.vcf", 404),
        ("/alice/nowhere/nobody.vcf", 404),
        ("/alice/work/local%20card.vcf/x", 403),  # below a card: no rights
        ("/alice/work/", 200),  # the whole book
        ("/alice/work/local%20card.vcf?view=freebusy", 403),
        ("/alice/work/local%20card.vcf?x=1", 200),
        ("/alice/.well-known/carddav", 301),
    ],
)
def test_what_is_not_one_stored_card_is_left_to_radicale(
    server: Server, reference: str, radicale_gets: list[str], path: str, status: int
) -> None:
    _fill(server)
    assert _same(server, reference, "GET", path).status_code == status
    assert len(radicale_gets) == (0 if status == 301 else 1)


@pytest.mark.parametrize(
    ("user", "status", "handled"),
    [
        (("bob", "bob-pw"), 403, 1),
        (("alice", "wrong"), 401, 0),  # Radicale refuses it before its handler
        (None, 401, 1),
    ],
)
def test_another_users_card_is_refused_by_radicale(
    server: Server,
    reference: str,
    radicale_gets: list[str],
    user: tuple[str, str] | None,
    status: int,
    handled: int,
) -> None:
    _fill(server)
    answer = _same(server, reference, "GET", LOCAL, user=user)
    assert answer.status_code == status and b"VCARD" not in answer.content
    assert len(radicale_gets) == handled


def test_a_card_written_then_read_has_the_written_etag(
    server: Server, radicale_gets: list[str]
) -> None:
    _fill(server)
    etag = server.alice.get(LOCAL).headers["etag"]
    changed = card("uid-local", "Local", "NOTE:changed")
    put = server.alice.put(LOCAL, content=changed, headers={"If-Match": etag})
    assert put.status_code == 204
    again = server.alice.get(LOCAL)
    assert again.headers["etag"] == put.headers["etag"] != etag
    assert "NOTE:changed" in again.text and radicale_gets == []


def test_a_card_is_found_and_read_in_one_query_on_either_store(
    tmp_path: Path, store_config: StoreConfig | None
) -> None:
    store = ContactStore(open_database(tmp_path, store_config))
    try:
        books = [store.ensure_book(owner, "work", "local") for owner in ("alice", "bob")]
        for book, href in zip(books, ("a b.vcf", "x.vcf"), strict=True):
            text = card(f"uid-{href}", href)
            store.save(ContactRow(book.id, href, f"uid-{href}", {}, '"e"', text, 1.0))
        found = store.card_at("alice", "work", "a b.vcf")
        assert found == store.get_items(books[0].id, ["a b.vcf"])["a b.vcf"]
        assert store.card_at("alice", "work", "x.vcf") is None  # bob's
        assert store.card_at("bob", "work", "a b.vcf") is None
        assert store.card_at("carol", "work", "x.vcf") is None
    finally:
        store.db.close()
