"""Streamed listings answer exactly what Radicale's own listing code answers.

Each request goes to two servers over the same engine: the bridge as it runs (PROPFIND Depth 1,
sync-collection and addressbook-multiget streamed from the store) and the same server with
streaming off, where Radicale builds every response itself. Their answers must mean the same thing.
"""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from radicale_plugin import listing, runtime
from radicale_plugin.context import RequestContext, request_scope
from tests.plugin.conftest import NS, Server, card
from tests.running_server import RunningServer

CR = NS["CR"]
PROPS = (
    "<D:getetag/><D:getcontenttype/><D:resourcetype/><D:getlastmodified/>"
    "<D:getcontentlength/><D:displayname/><D:sync-token/><CS:getctag/><X:unknown/>"
)
PROPFIND = (
    f'<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:CS="{NS["CS"]}" xmlns:X="urn:x">'
    "<D:prop>{props}</D:prop></D:propfind>"
)
SYNC = (
    f'<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:" xmlns:CR="{CR}" xmlns:X="urn:x">'
    "<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
    "<D:prop>{props}</D:prop></D:sync-collection>"
)


@pytest.fixture
def reference(server: Server, tmp_path: Path) -> Iterator[httpx.Client]:
    """A second server over the same engine, where Radicale answers every listing itself."""
    config = runtime.bridge_for(f"test:{tmp_path}").config
    key = f"reference:{tmp_path}"
    with (
        RunningServer(config, server.engine, key, stream_listings=False) as ref,
        httpx.Client(base_url=ref.url, auth=("alice", "alice-pw"), timeout=30) as client,
    ):
        yield client


def _fill(server: Server) -> None:
    for i in range(12):
        server.remote.create({"name": {"displayName": f"Zoë & <Co> {i}"}, "notes": f"n{i}"})
    put = server.alice.put(
        f"{server.book_url}local card.vcf",
        content=card("uid-local", "Local", "NOTE:a&b<c>").encode(),
        headers={"Content-Type": "text/vcard"},
    )
    assert put.status_code == 201


def _meaning(content: bytes) -> dict[str, object]:
    """href -> (status or {status: {prop: value}}), and the sync-token: what a client reads."""
    tree = ET.fromstring(content)
    meaning: dict[str, object] = {"sync-token": tree.findtext("D:sync-token", namespaces=NS)}
    for response in tree.findall("D:response", NS):
        href = response.findtext("D:href", namespaces=NS) or ""
        stats: dict[str, dict[str, str]] = {}
        for propstat in response.findall("D:propstat", NS):
            status = propstat.findtext("D:status", namespaces=NS) or ""
            for prop in propstat.find("D:prop", NS) or []:
                value = (prop.text or "") + "".join(sorted(child.tag for child in prop))
                stats.setdefault(status, {})[prop.tag] = value.replace("\r\n", "\n")
        meaning[href] = stats or response.findtext("D:status", namespaces=NS)
    return meaning


def _ask(
    client: httpx.Client,
    method: str,
    body: str | bytes,
    path: str = "/alice/work/",
    **headers: str,
) -> httpx.Response:
    response = client.request(method, path, headers={"Depth": "1", **headers}, content=body)
    assert response.status_code == 207, response.text
    return response


def _same(server: Server, reference: httpx.Client, method: str, body: str, **headers: str) -> dict:
    mine = _ask(server.alice, method, body, **headers)
    theirs = _ask(reference, method, body, **headers)
    assert _meaning(mine.content) == _meaning(theirs.content)
    return _meaning(mine.content)


@pytest.mark.parametrize(
    "props", [PROPS, "<D:getetag/>", "<D:resourcetype/><D:getetag/><D:getcontenttype/>"]
)
def test_propfind_depth_1_means_what_radicale_answers(
    server: Server, reference: httpx.Client, props: str
) -> None:
    _fill(server)
    meaning = _same(server, reference, "PROPFIND", PROPFIND.format(props=props))
    cards = [href for href in meaning if href.endswith(".vcf")]
    assert len(cards) == 13 and "/alice/work/local%20card.vcf" in cards


def test_a_streamed_listing_has_no_length_and_can_be_gzipped(
    server: Server, reference: httpx.Client
) -> None:
    _fill(server)
    body = PROPFIND.format(props="<D:getetag/>")
    plain = _ask(server.alice, "PROPFIND", body, **{"Accept-Encoding": "identity"})
    assert "content-length" not in plain.headers  # streamed, never held whole
    packed = server.alice.build_request(
        "PROPFIND", "/alice/work/", headers={"Depth": "1", "Accept-Encoding": "gzip"}, content=body
    )
    raw = server.alice.send(packed, stream=True)
    data = b"".join(raw.iter_raw())
    raw.close()
    assert raw.headers["content-encoding"] == "gzip"
    assert _meaning(gzip.decompress(data)) == _meaning(plain.content)


def test_hrefs_follow_the_mount_point(server: Server, reference: httpx.Client) -> None:
    _fill(server)
    meaning = _same(
        server, reference, "PROPFIND", PROPFIND.format(props=PROPS), **{"X-Script-Name": "/dav"}
    )
    assert all(href.startswith("/dav/alice/work/") for href in meaning if href != "sync-token")


def test_propfind_asking_for_rights_is_left_to_radicale(
    server: Server, reference: httpx.Client
) -> None:
    _fill(server)
    props = "<D:getetag/><D:current-user-privilege-set/>"
    meaning = _same(server, reference, "PROPFIND", PROPFIND.format(props=props))
    privileges = [m for h, m in meaning.items() if h.endswith(".vcf")]
    assert len(privileges) == 13


@pytest.mark.parametrize("version", [None, "3.0", "4.0"])
def test_sync_collection_initial_and_incremental_mean_what_radicale_answers(
    server: Server, reference: httpx.Client, version: str | None
) -> None:
    _fill(server)
    attrs = f' content-type="text/vcard" version="{version}"' if version else ""
    props = f"<D:getetag/><D:getcontenttype/><CR:address-data{attrs}/><X:unknown/>"
    first = _same(server, reference, "REPORT", SYNC.format(token="", props=props))
    assert len([h for h in first if h.endswith(".vcf")]) == 13
    assert f"VERSION:{version or '3.0'}" in str(first["/alice/work/local%20card.vcf"])

    card_url = f"{server.book_url}local%20card.vcf"
    etag = server.alice.get(card_url).headers["etag"]
    changed = card("uid-local", "Local", "NOTE:changed")
    assert server.alice.put(card_url, content=changed, headers={"If-Match": etag}).is_success
    gone = next(h for h in first if h.endswith(".vcf") and "local" not in h)
    assert server.alice.delete(gone).status_code in (200, 204)

    token = str(first["sync-token"])
    later = _same(server, reference, "REPORT", SYNC.format(token=token, props=props))
    assert set(later) == {"sync-token", "/alice/work/local%20card.vcf", gone}
    assert later[gone] == "HTTP/1.1 404 Not Found"


def test_invalid_sync_token_is_still_refused(server: Server) -> None:
    body = SYNC.format(token="urn:x-aurinko-bridge:sync:bogus:1", props="<D:getetag/>")
    response = server.alice.request("REPORT", "/alice/work/", headers={"Depth": "1"}, content=body)
    assert response.status_code == 403 and "valid-sync-token" in response.text


def test_listing_needs_the_owner(server: Server) -> None:
    _fill(server)
    body = PROPFIND.format(props="<D:getetag/>")
    for client in (server.bob, httpx.Client(base_url=server.url)):
        response = client.request("PROPFIND", "/alice/work/", headers={"Depth": "1"}, content=body)
        assert response.status_code in (401, 403, 404)
        assert b".vcf" not in response.content


def test_a_local_book_empty_and_filled_means_what_radicale_answers(
    server: Server, reference: httpx.Client
) -> None:
    mkcol = (
        f'<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:CR="{CR}"><D:set><D:prop>'
        "<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype></D:prop></D:set>"
        "</D:mkcol>"
    )
    assert server.alice.request("MKCOL", "/alice/family/", content=mkcol).status_code == 201
    requests = [
        ("PROPFIND", PROPFIND.format(props=PROPS)),
        ("REPORT", SYNC.format(token="", props="<D:getetag/><CR:address-data/>")),
    ]
    for filled in (False, True):
        if filled:
            text = card("uid-m", "Mum", "NOTE:x").encode()
            assert server.alice.put("/alice/family/m.vcf", content=text).status_code == 201
        for method, body in requests:
            mine = _ask(server.alice, method, body, "/alice/family/")
            theirs = _ask(reference, method, body, "/alice/family/")
            assert _meaning(mine.content) == _meaning(theirs.content)
            assert (b"m.vcf" in mine.content) is filled
            assert "content-length" not in mine.headers  # streamed by the wrapper


MULTIGET = (
    f'<?xml version="1.0"?><CR:addressbook-multiget xmlns:D="DAV:" xmlns:CR="{CR}" '
    'xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:X="urn:x">'
    "<D:prop>{props}</D:prop>{hrefs}</CR:addressbook-multiget>"
)
EVERYTHING = "<D:getetag/><D:getcontenttype/><CR:address-data/><C:calendar-data/><X:unknown/>"


def _multiget(props: str, hrefs: list[str]) -> str:
    return MULTIGET.format(props=props, hrefs="".join(f"<D:href>{h}</D:href>" for h in hrefs))


def _cards(server: Server) -> list[str]:
    """Every card's href, as a multiget names it."""
    tree = ET.fromstring(
        _ask(server.alice, "PROPFIND", PROPFIND.format(props="<D:getetag/>")).content
    )
    hrefs = [r.findtext("D:href", namespaces=NS) or "" for r in tree.findall("D:response", NS)]
    return [h for h in hrefs if h.endswith(".vcf")]


def _same_multiget(
    server: Server, reference: httpx.Client, body: str | bytes, **headers: str
) -> dict[str, object]:
    """The streamed multiget means what Radicale answers, each href as often."""
    mine = _ask(server.alice, "REPORT", body, **headers)
    theirs = _ask(reference, "REPORT", body, **headers)
    assert _meaning(mine.content) == _meaning(theirs.content)
    assert _hrefs(mine.content) == _hrefs(theirs.content)
    assert "content-length" not in mine.headers  # streamed by the wrapper
    return _meaning(mine.content)


def _hrefs(content: bytes) -> Counter[str]:
    tree = ET.fromstring(content)
    return Counter(
        r.findtext("D:href", namespaces=NS) or "" for r in tree.findall("D:response", NS)
    )


@pytest.mark.parametrize(
    "props",
    [
        "<D:getetag/>",
        EVERYTHING,
        '<D:getetag/><CR:address-data content-type="text/vcard" version="4.0"/>',
        '<CR:address-data content-type="text/vcard" version="3.0"/>',
    ],
)
def test_multiget_means_what_radicale_answers(
    server: Server, reference: httpx.Client, props: str
) -> None:
    _fill(server)
    cards = _cards(server)
    meaning = _same_multiget(server, reference, _multiget(props, cards))
    assert set(meaning) - {"sync-token"} == set(cards) and len(cards) == 13
    local = str(meaning["/alice/work/local%20card.vcf"])
    assert ("VERSION:4.0" in local) is ('version="4.0"' in props)
    assert ("NOTE:a&b<c>" in local) is ("address-data" in props)


@pytest.mark.parametrize(
    "hrefs",
    [
        ["/alice/work/nobody.vcf", "/alice/work/local%20card.vcf"],  # unknown, encoded
        ["/alice/work/local card.vcf", "/alice/work/local%20card.vcf"],  # the same card twice
        ["/alice/work/nobody.vcf", "/alice/work/nobody.vcf", "/alice/work/./nobody.vcf"],
        ["/bob/work/x.vcf", "/alice/other/x.vcf", "/alice/x.vcf", "/"],  # other collections
        ["/alice/work/a/b.vcf", "/alice/work/x.vcf/", "/alice/work/../work/local%20card.vcf"],
        ["http://elsewhere.example/alice/work/local%20card.vcf?x=1#f"],  # a full URL
        ["/alice/work/nobody.vcf", "/alice/work/"],  # the book itself: every card
        [],
    ],
)
def test_multiget_reads_hrefs_as_radicale_does(
    server: Server, reference: httpx.Client, hrefs: list[str]
) -> None:
    _fill(server)
    body = _multiget(EVERYTHING, hrefs)
    if "/alice/work/" in hrefs:  # left to Radicale, which lists the whole book
        mine, theirs = (_ask(c, "REPORT", body) for c in (server.alice, reference))
        assert _meaning(mine.content) == _meaning(theirs.content)
        assert len(_hrefs(mine.content)) == 14
        return
    _same_multiget(server, reference, body)


def test_multiget_of_many_cards_comes_in_batches(server: Server, reference: httpx.Client) -> None:
    _fill(server)
    unknown = [f"/alice/work/u{i}.vcf" for i in range(1200)]
    meaning = _same_multiget(server, reference, _multiget(EVERYTHING, [*unknown, *_cards(server)]))
    assert len(meaning) == 1 + 1200 + 13


def test_multiget_follows_the_mount_point(server: Server, reference: httpx.Client) -> None:
    _fill(server)
    hrefs = ["/dav/alice/work/local%20card.vcf", "/alice/work/local%20card.vcf", "/dav/bob/x"]
    meaning = _same_multiget(
        server, reference, _multiget(EVERYTHING, hrefs), **{"X-Script-Name": "/dav"}
    )
    assert set(meaning) == {"sync-token", "/dav/alice/work/local%20card.vcf", "/dav/bob/x"}


def test_multiget_is_gzipped_when_asked(server: Server, reference: httpx.Client) -> None:
    _fill(server)
    body = _multiget(EVERYTHING, _cards(server))
    request = server.alice.build_request(
        "REPORT", "/alice/work/", headers={"Accept-Encoding": "gzip"}, content=body
    )
    raw = server.alice.send(request, stream=True)
    data = b"".join(raw.iter_raw())
    raw.close()
    assert raw.headers["content-encoding"] == "gzip"
    assert _meaning(gzip.decompress(data)) == _meaning(_ask(reference, "REPORT", body).content)


def test_multiget_needs_the_owner_and_an_address_book(server: Server) -> None:
    _fill(server)
    body = _multiget("<D:getetag/><CR:address-data/>", _cards(server))
    for client in (server.bob, httpx.Client(base_url=server.url)):
        response = client.request("REPORT", "/alice/work/", content=body)
        assert response.status_code in (401, 403) and b".vcf" not in response.content
    assert server.alice.request("REPORT", "/alice/nowhere/", content=body).status_code == 404
    principal = server.alice.request("REPORT", "/alice/", content=body)
    assert principal.status_code == 403 and b"supported-report" in principal.content


@pytest.mark.parametrize(
    "body",
    [
        # What Radicale refuses to parse (defusedxml) stays its answer.
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "/alice/work/x.vcf">]>'
        f'<CR:addressbook-multiget xmlns:D="DAV:" xmlns:CR="{CR}"><D:prop><D:getetag/></D:prop>'
        "<D:href>&e;</D:href></CR:addressbook-multiget>",
        _multiget("", ["/alice/work/local%20card.vcf"]),  # no property: no card
        _multiget("<D:getetag/>", ["http://[::1/alice/work/x.vcf"]),  # unreadable: 400
    ],
)
def test_multiget_radicale_does_not_read_is_its_own(
    server: Server, reference: httpx.Client, body: str
) -> None:
    _fill(server)
    mine = server.alice.request("REPORT", "/alice/work/", content=body)
    theirs = reference.request("REPORT", "/alice/work/", content=body)
    assert mine.status_code == theirs.status_code
    if mine.status_code == 207:
        assert _meaning(mine.content) == _meaning(theirs.content)


@pytest.mark.parametrize("charset", ["utf-8", "iso-8859-1", "utf-7"])
def test_multiget_in_a_charset_means_what_radicale_answers(
    server: Server, reference: httpx.Client, charset: str
) -> None:
    _fill(server)
    hrefs = [*_cards(server), "/alice/work/zoë.vcf", "/alice/work/zo%C3%AB.vcf"]
    body = _multiget(EVERYTHING, hrefs).encode(charset)
    _same_multiget(server, reference, body, **{"Content-Type": f"text/xml; charset={charset}"})


@pytest.mark.parametrize("charset", ["cp037", "x-unknown"])  # EBCDIC; none
def test_a_multiget_radicale_would_read_otherwise_is_its_own(server: Server, charset: str) -> None:
    """Radicale would not read the stand-in as the collection's multiget: no streaming."""
    _fill(server)
    middleware = server.running.wrapper
    body = _multiget(EVERYTHING, _cards(server)).encode("utf-8")
    environ = {"PATH_INFO": "/alice/work/", "CONTENT_TYPE": f"text/xml; charset={charset}"}
    with request_scope(RequestContext(path="/alice/work/")):
        direct = middleware.direct
        assert direct.multiget(environ, listing.report_root(body.decode()), None) is None
        environ["CONTENT_TYPE"] = "text/xml; charset=utf-8"
        assert direct.multiget(environ, listing.report_root(body.decode()), None) is not None


def test_a_listing_goes_whole_to_radicale_if_its_answer_cannot_be_cut(
    server: Server, reference: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(server)
    requests = [
        ("REPORT", _multiget(EVERYTHING, [*_cards(server), "/alice/work/nobody.vcf"])),
        ("PROPFIND", PROPFIND.format(props="<D:getetag/><D:getcontentlength/>")),
        ("REPORT", SYNC.format(token="", props="<D:getetag/><CR:address-data/>")),
    ]
    monkeypatch.setattr(listing, "split_answer", lambda answer: None)
    for method, body in requests:
        mine = _ask(server.alice, method, body)
        assert _meaning(mine.content) == _meaning(_ask(reference, method, body).content)
        assert len([h for h in _hrefs(mine.content) if h.endswith(".vcf")]) in (13, 14)
