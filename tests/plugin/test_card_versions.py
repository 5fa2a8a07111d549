"""Issue 12 over CardDAV: each card is served in the version it was written in, the other
version on request; the PUT answer carries the ETag when the card is stored as sent; both
versions are advertised; a client speaking 4.0 syncs once and then finds nothing new."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bridge.sandbox import SandboxApp
from tests.plugin.conftest import (
    NS,
    Server,
    mkcol_book,
    propfind,
    report,
    responses,
    running_server,
    unfolded,
)
from tests.sync.test_versions import ADA_4, BOB_3

V4 = {"Accept": "text/vcard; version=4.0"}
V3 = {"Accept": "text/vcard; version=3.0"}


def put(client: httpx.Client, url: str, text: str, **headers: str) -> httpx.Response:
    headers.setdefault("Content-Type", "text/vcard; charset=utf-8")
    return client.put(url, content=text.encode("utf-8"), headers=headers)


def _version_attr(version: str | None) -> str:
    return f' content-type="text/vcard" version="{version}"' if version else ""


def multiget(
    client: httpx.Client, book_url: str, hrefs: list[str], version: str | None = None
) -> dict[str, tuple[str, str]]:
    """href -> (etag, card) of an addressbook-multiget."""
    body = (
        '<?xml version="1.0"?><CR:addressbook-multiget xmlns:D="DAV:"'
        ' xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/>'
        f"<CR:address-data{_version_attr(version)}/></D:prop>"
        + "".join(f"<D:href>{h}</D:href>" for h in hrefs)
        + "</CR:addressbook-multiget>"
    )
    response = report(client, book_url, body)
    assert response.status_code == 207, response.text
    return _cards(ET.fromstring(response.content))


def sync_collection(
    client: httpx.Client, book_url: str, token: str = "", version: str | None = None
) -> tuple[str, dict[str, tuple[str, str]]]:
    """The new token and href -> (etag, card) of a sync-collection asking for the cards."""
    body = (
        '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"'
        ' xmlns:CR="urn:ietf:params:xml:ns:carddav">'
        f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
        f"<D:prop><D:getetag/><CR:address-data{_version_attr(version)}/></D:prop>"
        "</D:sync-collection>"
    )
    response = report(client, book_url, body)
    assert response.status_code == 207, response.text
    tree = ET.fromstring(response.content)
    return tree.findtext("D:sync-token", namespaces=NS) or "", _cards(tree)


def _cards(tree: ET.Element) -> dict[str, tuple[str, str]]:
    return {
        href: (
            r.findtext(".//D:getetag", namespaces=NS) or "",
            r.findtext(".//CR:address-data", namespaces=NS) or "",
        )
        for href, r in responses(tree).items()
    }


def served_everywhere(server: Server, path: str, version: str | None = None) -> str:
    """The card at ``path`` (``/user/book/name``) as GET, multiget and a streamed
    sync-collection serve it: all three agree, etag included (XML reads CRLF as LF)."""
    book_url = path.rsplit("/", 1)[0] + "/"
    accept = {"Accept": f"text/vcard; version={version}"} if version else {}
    got = server.alice.get(path, headers=accept)
    assert got.status_code == 200, got.text
    listed = {
        "multiget": multiget(server.alice, book_url, [path], version)[path],
        "sync-collection": sync_collection(server.alice, book_url, version=version)[1][path],
    }
    for how, (etag, text) in listed.items():
        assert (etag, unfolded(text)) == (got.headers["ETag"], unfolded(got.text)), how
    return got.text


@pytest.fixture
def server_v4(sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path) -> Iterator[Server]:
    """The same server, its account configured for vCard 4.0."""
    with running_server(sandbox_app, live_sandbox, tmp_path, vcard_version="4.0") as running:
        yield running


# -- 1. served in its own version --------------------------------------------------------


@pytest.mark.parametrize("book", ["work", "family"])
def test_cards_are_served_in_the_version_they_were_written_in(server: Server, book: str) -> None:
    """In the account's book (3.0) and in a local one alike; the other version on request."""
    if book != "work":
        mkcol_book(server.alice, f"/alice/{book}/")
    ada, bob = f"/alice/{book}/ada.vcf", f"/alice/{book}/bob.vcf"
    assert put(server.alice, ada, ADA_4).status_code == 201
    assert put(server.alice, bob, BOB_3).status_code == 201

    assert unfolded(served_everywhere(server, ada)) == unfolded(ADA_4)
    assert unfolded(served_everywhere(server, bob)) == unfolded(BOB_3)
    assert unfolded(served_everywhere(server, ada, "4.0")) == unfolded(ADA_4)
    assert unfolded(served_everywhere(server, bob, "3.0")) == unfolded(BOB_3)

    ada_3 = unfolded(served_everywhere(server, ada, "3.0"))
    assert ada_3[1] == "VERSION:3.0" and "BDAY:1941-12-05" in ada_3
    bob_4 = unfolded(served_everywhere(server, bob, "4.0"))
    assert bob_4[1] == "VERSION:4.0" and "BDAY:19410105" in bob_4


def test_a_3_0_card_in_a_4_0_account_and_cards_born_in_aurinko(server_v4: Server) -> None:
    server = server_v4
    server.remote.create({"name": {"displayName": "Born Remote"}, "birthday": "1941-01-05"})
    assert put(server.alice, f"{server.book_url}bob.vcf", BOB_3).status_code == 201
    listed = sync_collection(server.alice, server.book_url)[1]
    remote = [text for href, (_, text) in listed.items() if not href.endswith("/bob.vcf")]
    assert len(remote) == 1 and unfolded(remote[0])[1] == "VERSION:4.0"  # the account's
    assert unfolded(listed["/alice/work/bob.vcf"][1]) == unfolded(BOB_3)


def test_a_remote_change_keeps_the_cards_version(server: Server) -> None:
    assert put(server.alice, f"{server.book_url}ada.vcf", ADA_4).status_code == 201
    server.engine.push(server.book)  # the PUT answered before its push (write-behind)
    row = server.engine.store.get(server.book.id, "ada.vcf")
    assert row is not None and row.remote_id is not None
    current = server.remote.get(row.remote_id)
    server.remote.update(row.remote_id, {"nickName": "Enchantress"}, etag=current["etag"])
    merged = unfolded(served_everywhere(server, "/alice/work/ada.vcf"))
    assert merged[1] == "VERSION:4.0"
    assert {"NICKNAME:Enchantress", "BDAY:19411205", "KIND:individual"} <= set(merged)


# -- 2. the ETag in the PUT answer -------------------------------------------------------


@pytest.mark.parametrize("book", ["work", "family"])
def test_put_answer_carries_the_etag_when_the_card_is_stored_as_sent(
    server: Server, book: str
) -> None:
    """RFC 6352 6.3.2.3: the client need not download what it just sent, in 4.0 in a 3.0
    book too, however it folds its lines or ends them."""
    if book != "work":
        mkcol_book(server.alice, f"/alice/{book}/")
    ada = f"/alice/{book}/ada.vcf"
    for text, status in ((ADA_4, 201), (ADA_4.replace("\r\n", "\n"), 204), (BOB_3, 201)):
        path = ada if "Ada" in text else f"/alice/{book}/bob.vcf"
        answer = put(server.alice, path, text)
        assert answer.status_code == status, answer.text
        assert answer.headers.get("ETag") == server.alice.get(path).headers["ETag"], text
    refolded = ADA_4.replace("EMAIL;TYPE=work:", "EMAIL;TYPE=wo\r\n rk:").replace("Ada", "Ada ")
    answer = put(server.alice, ada, refolded)
    assert answer.headers.get("ETag") == server.alice.get(ada).headers["ETag"]
    # and the If-Match of the next write, from that ETag, holds
    again = put(server.alice, ada, ADA_4, **{"If-Match": answer.headers["ETag"]})
    assert again.status_code == 204 and "ETag" in again.headers


# -- 3. advertised versions --------------------------------------------------------------


@pytest.mark.parametrize("book", ["work", "family"])
def test_supported_address_data_lists_3_0_and_4_0(server: Server, book: str) -> None:
    if book != "work":
        mkcol_book(server.alice, f"/alice/{book}/")
    tree = propfind(server.alice, f"/alice/{book}/", "0", "<CR:supported-address-data/>")
    types = tree.findall(".//CR:supported-address-data/CR:address-data-type", NS)
    assert sorted((t.get("content-type"), t.get("version")) for t in types) == [
        ("text/vcard", "3.0"),
        ("text/vcard", "4.0"),
    ]


# -- 8. a client speaking 4.0 by Accept --------------------------------------------------


def test_a_client_speaking_4_0_syncs_once_then_finds_nothing_new(server: Server) -> None:
    """It uploads 4.0 cards (keeping the ETags of the answers), lists the book with
    address-data 4.0, GETs with Accept 4.0; its second round finds nothing changed."""
    server.remote.create({"name": {"displayName": "Born Remote"}})  # served 3.0 by default
    sent = {"ada.vcf": ADA_4, "tb.vcf": _fixture("thunderbird/tb115.vcf")}
    put_etags = {}
    for name, text in sent.items():
        answer = put(server.alice, f"{server.book_url}{name}", text, **{"If-None-Match": "*"})
        assert answer.status_code == 201, answer.text
        put_etags[f"/alice/work/{name}"] = answer.headers.get("ETag")

    token, listed = sync_collection(server.alice, server.book_url, version="4.0")
    assert len(listed) == 3
    for href, (etag, text) in listed.items():
        assert unfolded(text)[1] == "VERSION:4.0"
        got = server.alice.get(href, headers=V4)
        assert (got.headers["ETag"], unfolded(got.text)) == (etag, unfolded(text))
        if href in put_etags:  # what it sent, under the etag it was told
            assert put_etags[href] == etag
            assert unfolded(text) == unfolded(sent[href.rsplit("/", 1)[1]])

    again, changed = sync_collection(server.alice, server.book_url, token, version="4.0")
    assert changed == {} and again == token
    for href, (etag, _) in listed.items():
        assert server.alice.get(href, headers=V4).headers["ETag"] == etag
    tree = propfind(server.alice, server.book_url, "1", "<D:getetag/>")
    etags = {h: r.findtext(".//D:getetag", namespaces=NS) for h, r in responses(tree).items()}
    assert {h: e for h, e in etags.items() if h.endswith(".vcf")} == {
        h: e for h, (e, _) in listed.items()
    }


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vcards"


def _fixture(name: str) -> str:
    return (FIXTURES / name).read_bytes().decode("utf-8")
