"""Raw CardDAV against Radicale + the bridge plugin, as Thunderbird and DAVx5 speak it."""

from __future__ import annotations

import pytest

from tests.conftest import TOKEN
from tests.plugin.conftest import NS, Server, card, propfind, report, responses

MULTIGET = (
    '<?xml version="1.0"?><CR:addressbook-multiget xmlns:D="DAV:" '
    'xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/>'
    "<CR:address-data{attrs}/></D:prop>{hrefs}</CR:addressbook-multiget>"
)
SYNC = (
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}'
    "</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop>"
    "</D:sync-collection>"
)


def _multiget(server: Server, *hrefs: str, version: str | None = None) -> dict:
    attrs = f' content-type="text/vcard" version="{version}"' if version else ""
    body = MULTIGET.format(attrs=attrs, hrefs="".join(f"<D:href>{h}</D:href>" for h in hrefs))
    response = report(server.alice, server.book_url, body)
    assert response.status_code == 207, response.text
    import xml.etree.ElementTree as ET

    return responses(ET.fromstring(response.content))


def _sync(server: Server, token: str = "") -> tuple[int, str, dict]:
    import xml.etree.ElementTree as ET

    response = report(server.alice, server.book_url, SYNC.format(token=token))
    if response.status_code != 207:
        return response.status_code, response.text, {}
    tree = ET.fromstring(response.content)
    return 207, tree.findtext("D:sync-token", namespaces=NS) or "", responses(tree)


def _status(element) -> str:  # type: ignore[no-untyped-def]
    return element.findtext(".//D:status", namespaces=NS) or ""


def _put(server: Server, href: str, text: str, **headers: str):  # type: ignore[no-untyped-def]
    headers.setdefault("Content-Type", "text/vcard; charset=utf-8")
    return server.alice.put(f"{server.book_url}{href}", content=text.encode(), headers=headers)


def test_discovery_from_the_bare_url(server: Server) -> None:
    response = server.alice.request("PROPFIND", "/.well-known/carddav", headers={"Depth": "0"})
    assert response.status_code in (301, 302, 307, 308)
    tree = propfind(
        server.alice,
        "/alice/",
        "1",
        "<D:resourcetype/><D:displayname/><CS:getctag/><D:sync-token/><CR:addressbook-home-set/>",
    )
    found = responses(tree)
    assert "/alice/work/" in found
    book = found["/alice/work/"]
    assert book.find(".//CR:addressbook", NS) is not None
    assert book.findtext(".//D:displayname", namespaces=NS) == "Work contacts"
    assert book.findtext(".//CS:getctag", namespaces=NS)
    assert (book.findtext(".//D:sync-token", namespaces=NS) or "").startswith(
        "urn:x-aurinko-bridge:sync:"
    )
    assert found["/alice/"].find(".//CR:addressbook-home-set/D:href", NS).text == "/alice/"


def test_remote_contacts_are_listed_with_etags(server: Server) -> None:
    for i in range(5):
        server.remote.create({"name": {"displayName": f"Person {i}"}})
    tree = propfind(server.alice, server.book_url, "1", "<D:getetag/>")
    items = {h: r for h, r in responses(tree).items() if h.endswith(".vcf")}
    assert len(items) == 5
    stored = {
        f"/alice/work/{i.href}": i.etag for i in server.engine.store.list_items(server.book.id)
    }
    assert {h: r.findtext(".//D:getetag", namespaces=NS) for h, r in items.items()} == stored


def test_put_get_and_etag_of_a_new_card(server: Server) -> None:
    response = _put(
        server,
        "new.vcf",
        card("uid-new", "New Person", "EMAIL;TYPE=WORK:n@example.com"),
        **{"If-None-Match": "*"},
    )
    assert response.status_code == 201, response.text
    got = server.alice.get(f"{server.book_url}new.vcf")
    assert got.status_code == 200
    assert "UID:uid-new" in got.text and "FN:New Person" in got.text
    assert response.headers.get("ETag") in (None, got.headers["ETag"])
    remote = server.sandbox.dump(TOKEN)
    assert [c["emailAddresses"][0]["address"] for c in remote] == ["n@example.com"]


def test_put_reply_has_the_served_etag_when_stored_as_sent(server: Server) -> None:
    _put(server, "a.vcf", card("uid-a", "Ann"))
    served = server.alice.get(f"{server.book_url}a.vcf").text
    again = _put(server, "a.vcf", served)
    assert again.status_code == 204
    assert again.headers["ETag"] == server.alice.get(f"{server.book_url}a.vcf").headers["ETag"]


def test_put_reply_drops_etag_when_the_stored_card_differs(server: Server) -> None:
    response = _put(server, "nofn.vcf", card("uid-nofn", None, "N:Doe;Jane;;;"))
    assert response.status_code == 201, response.text
    assert "ETag" not in response.headers  # the client must refetch what we stored
    assert "FN:Jane Doe" in server.alice.get(f"{server.book_url}nofn.vcf").text


def test_preconditions(server: Server) -> None:
    _put(server, "a.vcf", card("uid-a", "Ann"))
    etag = server.alice.get(f"{server.book_url}a.vcf").headers["ETag"]
    assert (
        _put(server, "a.vcf", card("uid-a", "Ann 2"), **{"If-None-Match": "*"}).status_code == 412
    )
    assert (
        _put(server, "a.vcf", card("uid-a", "Ann 2"), **{"If-Match": '"stale"'}).status_code == 412
    )
    assert _put(server, "a.vcf", card("uid-a", "Ann 2"), **{"If-Match": etag}).status_code == 204
    assert (
        server.alice.delete(f"{server.book_url}a.vcf", headers={"If-Match": etag}).status_code
        == 412
    )


def test_one_card_per_uid(server: Server) -> None:
    _put(server, "a.vcf", card("uid-a", "Ann"))
    response = _put(server, "b.vcf", card("uid-a", "Also Ann"))
    assert response.status_code == 409
    assert "no-uid-conflict" in response.text


def test_invalid_card_is_400_with_the_reason(server: Server) -> None:
    notes = "".join(f"X-NOTE-{i}:{i}\r\n" for i in range(6000))
    response = _put(server, "big.vcf", card("uid-big", "Big", notes.rstrip("\r\n")))
    assert response.status_code == 400
    assert "properties" in response.text  # the mapping's reason, not a bare "Bad Request"
    unparsable = _put(server, "bad.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\n")
    assert unparsable.status_code == 400
    assert server.engine.store.count(server.book.id) == 0
    assert server.sandbox.dump(TOKEN) == []


def test_unmapped_and_mangled_properties_come_back_intact(server: Server) -> None:
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    text = card(
        "uid-v4",
        "Vee Four",
        "NICKNAME:a,b,c",
        f"PHOTO:data:image/png;base64,{png}",
        "TEL;VALUE=uri;TYPE=work:tel:+1-555-0100;ext=12",
        "X-CUSTOM;X-P=1:kept as is",
        "item1.X-ABLabel:My label",
        version="4.0",
    )
    assert _put(server, "v4.vcf", text).status_code == 201
    got = server.alice.get(
        f"{server.book_url}v4.vcf", headers={"Accept": "text/vcard; version=4.0"}
    ).text
    unfolded = got.replace("\r\n ", "")
    assert "VERSION:4.0" in unfolded
    assert png in unfolded
    assert "NICKNAME:a,b,c" in unfolded
    assert "X-CUSTOM;X-P=1:kept as is" in unfolded
    assert "item1.X-ABLabel:My label" in unfolded
    assert "ext=12" in unfolded and "ext\\=12" not in unfolded


def test_version_negotiation(server: Server) -> None:
    _put(server, "a.vcf", card("uid-a", "Ann", "BDAY:--0414"))
    v3 = server.alice.get(f"{server.book_url}a.vcf")
    v4 = server.alice.get(f"{server.book_url}a.vcf", headers={"Accept": "text/vcard; version=4.0"})
    assert "VERSION:3.0" in v3.text and "VERSION:4.0" in v4.text
    assert v3.headers["ETag"] == v4.headers["ETag"]  # one resource state, any representation
    found = _multiget(server, "/alice/work/a.vcf", version="4.0")
    assert "VERSION:4.0" in found["/alice/work/a.vcf"].findtext(".//CR:address-data", namespaces=NS)


def test_multiget_and_query(server: Server) -> None:
    _put(server, "a.vcf", card("uid-a", "Ann Alpha"))
    _put(server, "b.vcf", card("uid-b", "Bob Beta"))
    found = _multiget(server, "/alice/work/a.vcf", "/alice/work/missing.vcf")
    assert "FN:Ann Alpha" in found["/alice/work/a.vcf"].findtext(
        ".//CR:address-data", namespaces=NS
    )
    assert "404" in _status(found["/alice/work/missing.vcf"])
    query = (
        '<?xml version="1.0"?><CR:addressbook-query xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">'
        '<D:prop><D:getetag/></D:prop><CR:filter><CR:prop-filter name="FN">'
        '<CR:text-match collation="i;unicode-casemap" match-type="contains">beta</CR:text-match>'
        "</CR:prop-filter></CR:filter></CR:addressbook-query>"
    )
    response = report(server.alice, server.book_url, query)
    assert response.status_code == 207
    import xml.etree.ElementTree as ET

    assert list(responses(ET.fromstring(response.content))) == ["/alice/work/b.vcf"]


def test_sync_collection_initial_incremental_and_invalid(server: Server) -> None:
    ids = [server.remote.create({"name": {"displayName": f"P{i}"}}).id for i in range(3)]
    status, token, items = _sync(server)
    assert status == 207 and len(items) == 3
    assert _sync(server, token)[2] == {}  # nothing changed

    current = server.remote.get(ids[0])
    server.remote.update(ids[0], {"nickName": "changed remotely"}, etag=current["etag"])
    server.remote.delete(ids[1])
    _put(server, "local.vcf", card("uid-local", "Local"))
    status, token2, changed = _sync(server, token)
    assert status == 207 and token2 != token
    assert len(changed) == 3
    deleted = [h for h, r in changed.items() if "404" in _status(r)]
    assert len(deleted) == 1
    assert "/alice/work/local.vcf" in changed

    status, text, _ = _sync(server, "urn:x-aurinko-bridge:sync:bogus:1")
    assert status == 403 and "valid-sync-token" in text
    status, text, _ = _sync(server, token.rsplit(":", 1)[0] + ":999999")
    assert status == 403


def test_users_reach_only_their_own_books(server: Server) -> None:
    _put(server, "a.vcf", card("uid-a", "Ann"))
    assert server.bob.get("/alice/work/a.vcf").status_code in (403, 404)
    assert server.bob.request("PROPFIND", "/alice/", headers={"Depth": "1"}).status_code in (
        403,
        404,
    )
    for path in (
        "/bob/../alice/work/a.vcf",
        "/bob/%2e%2e/alice/work/a.vcf",
        "/bob/..%2falice/work/a.vcf",
    ):
        assert server.bob.get(path).status_code in (403, 404), path
    assert server.bob.put("/alice/work/x.vcf", content=card("x", "X").encode()).status_code in (
        403,
        404,
    )
    import httpx

    assert httpx.get(f"{server.url}alice/work/a.vcf").status_code == 401
    assert httpx.get(f"{server.url}alice/work/a.vcf", auth=("alice", "wrong")).status_code == 401


def test_local_books_and_aurinko_books(server: Server) -> None:
    mkcol = (
        '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">'
        "<D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>"
        "<D:displayname>Family</D:displayname></D:prop></D:set></D:mkcol>"
    )
    assert server.alice.request("MKCOL", "/alice/family/", content=mkcol).status_code == 201
    assert (
        server.alice.put("/alice/family/m.vcf", content=card("uid-m", "Mum").encode()).status_code
        == 201
    )
    assert server.sandbox.dump(TOKEN) == []  # a local book never reaches Aurinko
    tree = propfind(server.alice, "/alice/", "1", "<D:displayname/>")
    assert responses(tree)["/alice/family/"].findtext(".//D:displayname", namespaces=NS) == "Family"

    assert server.alice.delete("/alice/work/").status_code == 403
    assert server.alice.delete("/alice/").status_code == 403  # the principal, never a 500

    assert server.alice.delete("/alice/family/").status_code == 200
    assert server.alice.get("/alice/family/m.vcf").status_code == 404
    moved = server.alice.request(
        "MOVE", "/alice/work/a.vcf", headers={"Destination": f"{server.url}alice/work/b.vcf"}
    )
    assert 400 <= moved.status_code < 500


def test_proppatch_keeps_display_name(server: Server) -> None:
    body = (
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
        "<D:displayname>Renamed</D:displayname></D:prop></D:set></D:propertyupdate>"
    )
    assert server.alice.request("PROPPATCH", server.book_url, content=body).status_code == 207
    tree = propfind(server.alice, server.book_url, "0", "<D:displayname/>")
    assert tree.findtext(".//D:displayname", namespaces=NS) == "Renamed"


def test_writes_are_accepted_while_aurinko_is_down(server: Server) -> None:
    server.sandbox.set_faults(error_rate=1.0, error_statuses=(503,), retry_after=None)
    response = _put(server, "a.vcf", card("uid-a", "Ann"))
    assert response.status_code == 201
    assert server.alice.get(f"{server.book_url}a.vcf").status_code == 200
    assert server.engine.outbox.count(server.book.id) == 1
    server.sandbox.set_faults(error_rate=0.0)
    server.engine.sync(server.book)
    assert [c["name"]["displayName"] for c in server.sandbox.dump(TOKEN)] == ["Ann"]


@pytest.mark.parametrize("depth", ["0", "1"])
def test_root_propfind(server: Server, depth: str) -> None:
    tree = propfind(server.alice, "/", depth, "<D:current-user-principal/>")
    assert tree.findtext(".//D:current-user-principal/D:href", namespaces=NS) == "/alice/"


def test_secrets_never_reach_the_logs(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    _put(server, "a.vcf", card("uid-a", "Ann"))
    server.alice.get(f"{server.book_url}a.vcf")
    server.alice.request("PROPFIND", server.book_url, headers={"Depth": "1"})
    server.bob.get("/alice/work/a.vcf")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records
    for secret in ("alice-pw", "bob-pw", TOKEN):
        assert secret not in text
