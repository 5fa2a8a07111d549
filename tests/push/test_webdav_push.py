"""WebDAV-Push over real HTTP: the properties address books advertise, registration and
unregistration, and the encrypted, signed messages a push service receives when a book's
sync token moves (a CardDAV write, a pull from Aurinko), coalesced, never to an expired,
removed or gone subscription, nor back to the client that made the change."""

from __future__ import annotations

import itertools
import time
import xml.etree.ElementTree as ET
from email.utils import formatdate, parsedate_to_datetime

import httpx
import pytest

from bridge.push.protocol import b64decode
from bridge.store.push import PushStore
from tests.plugin.conftest import card, mkcol_book
from tests.wait import eventually

from .conftest import NS, OPTIONS, PushServer, Subscriber

PUSH_PROPS = "<P:transports/><P:topic/><P:supported-triggers/>"


def propfind(client: httpx.Client, url: str, depth: str, props: str, **headers: str) -> ET.Element:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"'
        f' xmlns:P="{NS["P"]}" xmlns:CR="{NS["CR"]}"><D:prop>{props}</D:prop></D:propfind>'
    )
    response = client.request("PROPFIND", url, headers={"Depth": depth, **headers}, content=body)
    assert response.status_code == 207, response.text
    return ET.fromstring(response.content)


def by_href(tree: ET.Element) -> dict[str, ET.Element]:
    return {r.findtext("D:href", namespaces=NS) or "": r for r in tree.findall("D:response", NS)}


def found(response: ET.Element, tag: str) -> ET.Element | None:
    """``tag`` (``P:topic``) in the response's 200 propstat, else None."""
    for propstat in response.findall("D:propstat", NS):
        if "200" in (propstat.findtext("D:status", namespaces=NS) or ""):
            element = propstat.find(f"D:prop/{tag}", NS)
            if element is not None:
                return element
    return None


def missing(response: ET.Element, tag: str) -> bool:
    for propstat in response.findall("D:propstat", NS):
        status = propstat.findtext("D:status", namespaces=NS) or ""
        if "404" in status and propstat.find(f"D:prop/{tag}", NS) is not None:
            return True
    return False


def topic_of(server: PushServer, url: str) -> str:
    tree = propfind(server.alice, url, "0", "<P:topic/>")
    element = found(next(iter(by_href(tree).values())), "P:topic")
    assert element is not None and element.text
    return element.text


def sync_token(server: PushServer, url: str) -> str:
    tree = propfind(server.alice, url, "0", "<D:sync-token/>")
    token = tree.findtext(".//D:sync-token", namespaces=NS)
    assert token
    return token


def put(server: PushServer, url: str, uid: str, fn: str, **headers: str) -> None:
    response = server.alice.put(f"{url}{uid}.vcf", content=card(uid, fn), headers=headers)
    assert response.status_code in (201, 204), response.text


def registered(server: PushServer, subscriber: Subscriber, url: str | None = None) -> str:
    """Subscribe; the registration's URL."""
    response = server.register(subscriber, url)
    assert response.status_code == 201, response.text
    return response.headers["Location"]


def quiet(seconds: float = OPTIONS.interval + 1.0) -> None:
    """Longer than a message could be held back for."""
    time.sleep(seconds)


# -- advertising ------------------------------------------------------------------------


def test_an_address_book_advertises_web_push_its_topic_and_triggers(
    push_server: PushServer,
) -> None:
    tree = propfind(push_server.alice, push_server.book_url, "0", PUSH_PROPS)
    (response,) = by_href(tree).values()
    key = found(response, "P:transports/P:web-push/P:vapid-public-key")
    assert key is not None and key.get("type") == "p256ecdsa"
    assert len(b64decode(key.text or "")) == 65 and b64decode(key.text or "")[0] == 4
    assert key.text == push_server.running.push.vapid_public_key  # type: ignore[union-attr]
    topic = found(response, "P:topic")
    assert topic is not None and topic.text and len(topic.text) == 22
    depth = found(response, "P:supported-triggers/P:content-update/D:depth")
    assert depth is not None and depth.text == "1"
    assert found(response, "P:supported-triggers/P:property-update") is None
    assert not missing(response, "P:topic")

    options = push_server.alice.request("OPTIONS", push_server.book_url)
    assert "webdav-push" in options.headers["DAV"]
    assert "webdav-push" not in push_server.alice.request("OPTIONS", "/alice/").headers["DAV"]


def test_a_home_set_listing_shows_push_on_each_book_as_davx5_asks(
    push_server: PushServer,
) -> None:
    """DAVx5 lists the address-book home with Depth 1, asking for the push properties
    beside Radicale's own; gzip as okhttp asks. Only books have a topic."""
    mkcol_book(push_server.alice, "/alice/local/")
    props = (
        "<D:current-user-privilege-set/><D:displayname/><D:owner/><D:resourcetype/>"
        "<CR:addressbook-description/><P:transports/><P:topic/>"
    )
    tree = propfind(push_server.alice, "/alice/", "1", props, **{"Accept-Encoding": "gzip"})
    responses = by_href(tree)
    assert set(responses) == {"/alice/", "/alice/work/", "/alice/local/"}
    assert missing(responses["/alice/"], "P:topic")
    assert missing(responses["/alice/"], "P:transports")
    topics = {found(responses[h], "P:topic").text for h in ("/alice/work/", "/alice/local/")}  # type: ignore[union-attr]
    assert len(topics) == 2  # one per book
    for href in ("/alice/work/", "/alice/local/"):
        assert found(responses[href], "P:transports/P:web-push/P:vapid-public-key") is not None
        assert found(responses[href], "D:displayname") is not None  # Radicale's own, kept
        assert found(responses[href], "D:current-user-privilege-set") is not None

    # The same book, the same topic, however it is asked for.
    assert (
        topic_of(push_server, push_server.book_url)
        == found(responses["/alice/work/"], "P:topic").text
    )  # type: ignore[union-attr]


def test_a_streamed_card_listing_keeps_the_books_topic_and_gives_cards_none(
    push_server: PushServer,
) -> None:
    put(push_server, push_server.book_url, "c1", "Card One")
    raw = push_server.alice.request(
        "PROPFIND",
        push_server.book_url,
        headers={"Depth": "1", "Accept-Encoding": "gzip"},
        content=(
            f'<D:propfind xmlns:D="DAV:" xmlns:P="{NS["P"]}"><D:prop><D:getetag/><P:topic/>'
            "</D:prop></D:propfind>"
        ),
    )
    assert raw.status_code == 207
    responses = by_href(ET.fromstring(raw.content))
    assert found(responses["/alice/work/"], "P:topic") is not None
    assert missing(responses["/alice/work/c1.vcf"], "P:topic")
    assert found(responses["/alice/work/c1.vcf"], "D:getetag") is not None


def test_allprop_does_not_list_the_push_properties(push_server: PushServer) -> None:
    response = push_server.alice.request(
        "PROPFIND",
        push_server.book_url,
        headers={"Depth": "0"},
        content='<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>',
    )
    assert response.status_code == 207
    assert NS["P"].encode() not in response.content


# -- registration -----------------------------------------------------------------------


def test_register_answers_201_with_the_registration_url_and_its_expiry(
    push_server: PushServer,
) -> None:
    subscriber = push_server.service.subscriber("phone")
    asked = formatdate(time.time() + 2 * 86400, usegmt=True)
    response = push_server.register(subscriber, expires=asked)
    assert response.status_code == 201, response.text
    location = response.headers["Location"]
    assert location.startswith(push_server.url + ".push/")
    assert response.headers["Expires"] == asked  # within bounds: granted as asked

    # The same push resource again: the same registration, renewed (204), no second one.
    later = push_server.register(subscriber)
    assert later.status_code == 204
    assert later.headers["Location"] == location
    expires = parsedate_to_datetime(later.headers["Expires"]).timestamp()
    assert abs(expires - (time.time() + OPTIONS.default_expiry)) < 60
    store = PushStore(push_server.engine.db)
    assert len(store.live(push_server.book.id, time.time())) == 1

    # Much later than the server keeps a registration: it is cut to its maximum.
    far = push_server.register(
        subscriber, expires=formatdate(time.time() + 90 * 86400, usegmt=True)
    )
    expires = parsedate_to_datetime(far.headers["Expires"]).timestamp()
    assert abs(expires - (time.time() + OPTIONS.max_expiry)) < 60


def test_a_registration_with_a_trigger_and_encoding_as_the_draft_writes_it(
    push_server: PushServer,
) -> None:
    subscriber = push_server.service.subscriber("draft")
    body = subscriber.register_body(
        trigger="<P:content-update><D:depth>infinity</D:depth></P:content-update>"
        "<P:property-update><D:depth>0</D:depth></P:property-update>"
    ).replace(
        "</P:push-resource>", "</P:push-resource><P:content-encoding>aes128gcm</P:content-encoding>"
    )
    response = push_server.alice.post(
        push_server.book_url, content=body, headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("change", "condition"),
    [
        (
            lambda b: b.replace("<P:push-resource>http", "<P:push-resource>ftp"),
            "invalid-subscription",
        ),
        (lambda b: b.replace('type="p256dh">', 'type="p256dh">AAAA'), "invalid-subscription"),
        (lambda b: b.replace("<P:auth-secret>", "<P:auth-secret>QUJD"), "invalid-subscription"),
        (lambda b: b.replace('type="p256dh"', 'type="x25519"'), "invalid-subscription"),
        (
            lambda b: b.replace(
                "</P:push-resource>",
                "</P:push-resource><P:content-encoding>aesgcm</P:content-encoding>",
            ),
            "invalid-subscription",
        ),
        (
            lambda b: b.replace(
                "</P:subscription>",
                "</P:subscription><P:trigger><P:property-update><D:depth>0</D:depth>"
                "</P:property-update></P:trigger>",
            ),
            "no-supported-trigger",
        ),
    ],
    ids=["not-http", "bad-key", "bad-auth", "key-type", "encoding", "property-trigger-only"],
)
def test_a_registration_the_server_cannot_take_is_refused_with_the_drafts_condition(
    push_server: PushServer, change: object, condition: str
) -> None:
    subscriber = push_server.service.subscriber("bad")
    body = change(subscriber.register_body())  # type: ignore[operator]
    response = push_server.alice.post(
        push_server.book_url, content=body, headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == 403, response.text
    error = ET.fromstring(response.content)
    assert error.tag == "{DAV:}error"
    assert error.find(f"P:{condition}", NS) is not None
    assert error.findtext("{urn:x-aurinko-bridge}reason")  # why, for people
    assert PushStore(push_server.engine.db).live(push_server.book.id, time.time()) == []


def test_a_body_that_is_not_xml_is_a_400_and_another_post_stays_radicales(
    push_server: PushServer,
) -> None:
    response = push_server.alice.post(
        push_server.book_url, content=b"<P:push-register", headers={"Content-Type": "text/xml"}
    )
    assert response.status_code == 400
    assert "not XML" in response.text
    other = push_server.alice.post(
        push_server.book_url,
        content=b'<D:propfind xmlns:D="DAV:"/>',
        headers={"Content-Type": "application/xml"},
    )
    assert other.status_code == 405  # Radicale's answer to a POST it does not serve


def test_only_the_owner_registers_on_a_book(push_server: PushServer) -> None:
    subscriber = push_server.service.subscriber("intruder")
    assert push_server.register(subscriber, client=push_server.anonymous).status_code == 401
    refused = push_server.register(subscriber, client=push_server.bob)
    assert refused.status_code == 403
    assert ET.fromstring(refused.content).find("P:push-not-available", NS) is not None
    missing_book = push_server.register(subscriber, url="/alice/nothing/")
    assert missing_book.status_code == 404
    principal = push_server.register(subscriber, url="/alice/")
    assert principal.status_code == 403
    assert PushStore(push_server.engine.db).live(push_server.book.id, time.time()) == []


# -- messages ---------------------------------------------------------------------------


def test_a_card_written_by_another_client_is_pushed_at_once(push_server: PushServer) -> None:
    phone = push_server.service.subscriber("phone")
    registered(push_server, phone)
    topic = topic_of(push_server, push_server.book_url)

    started = time.monotonic()
    put(push_server, push_server.book_url, "from-laptop", "Written Elsewhere")
    (message,) = phone.wait(1, timeout=5)
    assert message.arrived - started < 3
    assert message.topic == topic
    assert message.sync_token == sync_token(push_server, push_server.book_url)
    assert message.vapid_key == push_server.running.push.vapid_public_key  # type: ignore[union-attr]
    assert message.claims["sub"] == "mailto:admin@example.org"
    assert message.xml.tag == f"{{{NS['P']}}}push-message"
    assert message.headers["topic"] == topic  # the push service may replace an older one
    assert int(message.headers["ttl"]) > 0
    quiet()
    assert len(phone.messages) == 1  # one change, one message
    sent = PushStore(push_server.engine.db).live(push_server.book.id, time.time())[0]
    assert sent.last_sent is not None


def test_a_burst_of_writes_makes_few_messages_the_last_after_the_last_write(
    push_server: PushServer,
) -> None:
    phone = push_server.service.subscriber("phone")
    registered(push_server, phone)
    # The sender's first message loads its cryptography (on first use): under load that
    # delays its arrival by a good part of an interval, which would read as a short gap.
    put(push_server, push_server.book_url, "warm-up", "Warm Up")
    phone.wait(1)
    quiet()  # a quiet spell: the burst's first message goes out at once
    phone.messages.clear()
    for i in range(20):  # over more than two intervals, never quiet for long
        time.sleep(OPTIONS.interval / 8)
        put(push_server, push_server.book_url, f"burst-{i}", f"Burst {i}")
    last_write = time.monotonic()
    final = sync_token(push_server, push_server.book_url)
    deadline = time.monotonic() + 10
    while not (phone.messages and phone.messages[-1].sync_token == final):
        assert time.monotonic() < deadline, [m.sync_token for m in phone.messages]
        time.sleep(0.05)
    quiet()
    assert not phone.errors
    print(f"{len(phone.messages)} messages for 20 writes")
    assert 2 <= len(phone.messages) <= 6, len(phone.messages)
    assert phone.messages[-1].arrived >= last_write
    assert phone.messages[-1].sync_token == final
    arrivals = [m.arrived for m in phone.messages]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert all(gap >= OPTIONS.interval * 0.8 for gap in gaps), gaps  # at most one per interval


def test_a_change_pulled_from_aurinko_is_pushed(push_server: PushServer) -> None:
    phone = push_server.service.subscriber("phone")
    registered(push_server, phone)
    push_server.remote.create({"name": {"displayName": "Born at Aurinko"}})
    push_server.engine.pull(push_server.book)
    (message,) = phone.wait(1, timeout=5)
    assert message.topic == topic_of(push_server, push_server.book_url)
    assert message.sync_token == sync_token(push_server, push_server.book_url)


def test_a_local_book_pushes_with_its_own_topic(push_server: PushServer) -> None:
    mkcol_book(push_server.alice, "/alice/local/")
    phone = push_server.service.subscriber("phone")
    work = push_server.service.subscriber("work")
    registered(push_server, phone, "/alice/local/")
    registered(push_server, work)
    put(push_server, "/alice/local/", "here", "Local Card")
    (message,) = phone.wait(1, timeout=5)
    assert message.topic == topic_of(push_server, "/alice/local/")
    assert message.topic != topic_of(push_server, push_server.book_url)
    quiet()
    assert work.messages == []  # its book did not change


def test_unsubscribing_stops_the_messages(push_server: PushServer) -> None:
    phone = push_server.service.subscriber("phone")
    location = registered(push_server, phone)
    assert push_server.bob.delete(location).status_code == 404  # not his
    assert push_server.anonymous.delete(location).status_code == 401
    assert push_server.alice.delete(location).status_code == 204
    assert push_server.alice.delete(location).status_code == 404  # gone already
    put(push_server, push_server.book_url, "after", "After Unsubscribing")
    quiet()
    assert phone.messages == []


def test_a_subscription_the_push_service_forgot_is_dropped(push_server: PushServer) -> None:
    phone = push_server.service.subscriber("phone")
    location = registered(push_server, phone)
    phone.answer = 410
    put(push_server, push_server.book_url, "to-nowhere", "Nobody Listens")
    store = PushStore(push_server.engine.db)
    eventually(
        lambda: not store.live(push_server.book.id, time.time()),
        timeout=5,
        what="the gone subscription removed",
    )
    assert push_server.alice.delete(location).status_code == 404


def test_an_expired_subscription_is_not_used_and_is_removed(push_server: PushServer) -> None:
    phone = push_server.service.subscriber("phone")
    soon = formatdate(time.time() + 2, usegmt=True)
    response = push_server.register(phone, expires=soon)
    assert response.status_code == 201
    assert response.headers["Expires"] == soon
    time.sleep(2.5)
    put(push_server, push_server.book_url, "late", "Too Late")
    quiet()
    assert phone.messages == []
    store = PushStore(push_server.engine.db)
    registration_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert store.get(registration_id) is None  # cleaned up
    assert push_server.alice.delete(response.headers["Location"]).status_code == 404


def test_a_clients_own_write_is_not_pushed_back_to_it(push_server: PushServer) -> None:
    """DAVx5 names its registration in Push-Dont-Notify on its PUTs and DELETEs."""
    phone, tablet = (push_server.service.subscriber(n) for n in ("phone", "tablet"))
    phone_url = registered(push_server, phone)
    registered(push_server, tablet)
    put(
        push_server,
        push_server.book_url,
        "mine",
        "Written By Phone",
        **{"Push-Dont-Notify": f'"{phone_url}"'},
    )
    tablet.wait(1, timeout=5)
    quiet()
    assert phone.messages == []

    # Another client's change: both hear of it.
    put(push_server, push_server.book_url, "theirs", "Written Elsewhere")
    phone.wait(1, timeout=5)
    tablet.wait(2, timeout=5)

    # "*": nobody.
    deleted = push_server.alice.delete(
        f"{push_server.book_url}theirs.vcf", headers={"Push-Dont-Notify": "*"}
    )
    assert deleted.status_code in (200, 204)
    quiet()
    assert (len(phone.messages), len(tablet.messages)) == (1, 2)


def test_gzip_answers_stay_gzip(push_server: PushServer) -> None:
    raw = push_server.alice.request(
        "PROPFIND",
        push_server.book_url,
        headers={"Depth": "0", "Accept-Encoding": "gzip"},
        content=f'<D:propfind xmlns:D="DAV:" xmlns:P="{NS["P"]}"><D:prop><P:topic/></D:prop></D:propfind>'.encode(),
    )
    assert raw.status_code == 207
    assert raw.headers.get("Content-Encoding") == "gzip"
    assert b"topic" in raw.content  # httpx undid the gzip
