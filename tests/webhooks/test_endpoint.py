"""``WebhookEndpoint``: Aurinko's URL check, signed notifications asking for a pull (once:
a redelivery is answered without new work), and everything else refused before any work
is done."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from bridge.aurinko import AurinkoClient
from bridge.sandbox import SandboxApp
from bridge.store.webhooks import WebhookStore
from bridge.webhooks import WebhookEndpoint, notification_url, sign
from bridge.webhooks.endpoint import MAX_BODY, Spacer
from tests.conftest import TOKEN
from tests.wait import eventually
from tests.webhooks.conftest import SECRET, Hooked, Sender, webhooks_config

# The endpoint, the spacer and the pulls they ask for are the subject, not the store: the
# subscriptions' SQL runs on both backends in tests/webhooks/test_store.py, and webhooks on
# PostgreSQL end to end in tests/cli/test_webhooks.py::test_two_instances_on_postgresql.
pytestmark = pytest.mark.store_backends("sqlite")

BOOK_TOKEN = "00112233445566778899aabbccddeeff"
QUIET = 0.5  # how long a test waits to be sure that no pull follows


@pytest.fixture
def sender(hooked: Hooked, tmp_path: Path) -> Sender:
    config = webhooks_config(tmp_path)
    WebhookStore(hooked.engine.db).record_url(hooked.book.id, notification_url(config, BOOK_TOKEN))
    endpoint = WebhookEndpoint(hooked.engine, config, SECRET)
    return Sender(endpoint)


def test_the_url_check_is_answered_with_its_token(sender: Sender, hooked: Hooked) -> None:
    challenge = "679732f7-8775-4340-a33d-713217277682"
    answer = sender.post(BOOK_TOKEN, b"", query=f"validationToken={challenge}", signed=False)
    assert answer.status == 200 and answer.body == challenge.encode()
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    signed = sender.post(BOOK_TOKEN, b"", query=f"validationToken={challenge}")
    assert signed.status == 200 and signed.body == challenge.encode()
    forged = sender.post(BOOK_TOKEN, b"", query="validationToken=x", signature="0" * 64)
    assert forged.status == 401
    # Signed by Aurinko: only it learns that no book has this token.
    assert sender.post("f" * 32, b"", query="validationToken=x").status == 404
    time.sleep(QUIET)
    assert hooked.pulls == []  # a check is not a change


def test_an_unsigned_url_check_does_not_tell_whether_a_token_exists(sender: Sender) -> None:
    """Issue 21: unsigned, the check of a book's URL and of a made-up one are answered
    alike (the echo), so nobody can probe for tokens that exist."""
    known = sender.post(BOOK_TOKEN, b"", query="validationToken=probe", signed=False)
    unknown = sender.post("f" * 32, b"", query="validationToken=probe", signed=False)
    assert (known.status, known.headers, known.body) == (
        unknown.status,
        unknown.headers,
        unknown.body,
    )
    assert known.status == 200 and known.body == b"probe"


def test_two_url_checks_with_one_signature_both_pass(
    sender: Sender, hooked: Hooked, tmp_path: Path
) -> None:
    """Issue 21: every handshake has an empty body, so two books' checks within one second
    carry one signature; neither is taken for a replay."""
    other = hooked.engine.store.ensure_book("alice", "home", "aurinko")
    hooked.engine.clients[other.id] = hooked.engine.clients[hooked.book.id]
    other_token = "ab" * 16
    config = webhooks_config(tmp_path)
    WebhookStore(hooked.engine.db).record_url(other.id, notification_url(config, other_token))
    now = str(int(time.time()))
    signature = sign(SECRET, now, b"")
    for token, challenge in ((BOOK_TOKEN, "one"), (other_token, "two"), (BOOK_TOKEN, "three")):
        query = f"validationToken={challenge}"
        answer = sender.post(token, b"", query=query, timestamp=now, signature=signature)
        assert (answer.status, answer.body) == (200, challenge.encode())


def test_a_notification_pulls_the_book_at_once(
    sender: Sender, hooked: Hooked, sandbox_app: SandboxApp, live_sandbox: str
) -> None:
    with AurinkoClient(TOKEN, live_sandbox) as other_device:
        other_device.create({"name": {"givenName": "Ada", "familyName": "Lovelace"}})
    started = time.monotonic()
    answer = sender.post(BOOK_TOKEN)
    assert answer.status == 200
    assert time.monotonic() - started < 0.5  # answered without waiting for the pull
    eventually(lambda: hooked.engine.store.count(hooked.book.id) == 1)
    assert len(hooked.pulls) == 1


def test_forged_unsigned_stale_and_repeated_notifications_do_nothing(
    sender: Sender, hooked: Hooked
) -> None:
    body = b'{"subscription": 1, "resource": "/contacts"}'
    now = str(int(time.time()))
    stale = str(int(time.time()) - 301)
    assert sender.post(BOOK_TOKEN, body, signed=False).status == 401
    assert sender.post(BOOK_TOKEN, body, signature=sign("guess", now, body)).status == 401
    assert sender.post(BOOK_TOKEN, body, timestamp=stale).status == 401
    assert sender.post(BOOK_TOKEN, body, timestamp=now, signature="").status == 401
    # Signed for another body: the body is what is signed.
    assert sender.post(BOOK_TOKEN, body + b" ", signature=sign(SECRET, now, body)).status == 401
    # An unknown book's URL, forged: refused as forged (nothing tells it is unknown).
    assert sender.post("e" * 32, body, signed=False).status == 401
    time.sleep(QUIET)
    assert hooked.pulls == []

    signature = sign(SECRET, now, body)
    assert sender.post(BOOK_TOKEN, body, timestamp=now, signature=signature).status == 200
    eventually(lambda: len(hooked.pulls) == 1)
    # Sent again (Aurinko's retry when our 200 did not reach it): 200, and no new work.
    again = sender.post(BOOK_TOKEN, body, timestamp=now, signature=signature.upper())
    assert again.status == 200
    time.sleep(QUIET + 1)  # past the spacing: a pull asked for now would have begun
    assert len(hooked.pulls) == 1


def test_what_is_not_a_notification(sender: Sender, hooked: Hooked) -> None:
    assert sender.post("e" * 32).status == 404  # signed, but no book has that URL
    assert sender.post(BOOK_TOKEN, method="GET", signed=False).status == 405
    assert sender.post(BOOK_TOKEN, path="/.bridge/webhooks").status == 404
    assert sender.post(BOOK_TOKEN, path="/.bridge/webhooks/aurinko/").status == 404
    assert sender.post(BOOK_TOKEN, path=f"/.bridge/webhooks/aurinko/{BOOK_TOKEN}/x").status == 404
    assert sender.post(BOOK_TOKEN, path=f"/.bridge/webhooks/other/{BOOK_TOKEN}").status == 404
    big = b"x" * (MAX_BODY + 1)
    assert sender.post(BOOK_TOKEN, big).status == 413
    time.sleep(QUIET)
    assert hooked.pulls == []


def test_a_burst_of_fifty_costs_two_pulls_at_most(sender: Sender, hooked: Hooked) -> None:
    statuses: list[int] = []

    def send(n: int) -> None:
        for i in range(10):
            body = b'{"payloads": [{"id": "%d-%d", "changeType": "updated"}]}' % (n, i)
            statuses.append(sender.post(BOOK_TOKEN, body).status)

    senders = [threading.Thread(target=send, args=(n,)) for n in range(5)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    assert statuses == [200] * 50
    eventually(lambda: len(hooked.pulls) >= 1)
    time.sleep(2.5)  # the spacing's end, and the pull it asks for
    assert 1 <= len(hooked.pulls) <= 2


def test_a_change_made_while_a_pull_runs_gets_its_own_pull(
    sender: Sender, hooked: Hooked, live_sandbox: str
) -> None:
    """The notification of a change that the pull under way has missed (it read Aurinko
    before the change) is not swallowed by that pull."""
    engine, book = hooked.engine, hooked.book
    real_mark = engine.store.mark_pulled
    done = threading.Event()

    def mark_pulled(book_id: int, when: float | None = None) -> None:
        if not done.is_set():  # the first pull has read Aurinko: the change comes now
            done.set()
            with AurinkoClient(TOKEN, live_sandbox) as other_device:
                other_device.create({"name": {"givenName": "Late", "familyName": "Change"}})
            assert sender.post(BOOK_TOKEN, b'{"n": 2}').status == 200
            time.sleep(0.2)
        real_mark(book_id, when)

    engine.store.mark_pulled = mark_pulled  # type: ignore[method-assign]
    engine.notified(book)
    eventually(lambda: engine.store.count(book.id) == 1)


def test_the_spacer_folds_what_comes_within_its_spacing() -> None:
    asked: list[tuple[int, float]] = []
    spacer = Spacer(lambda book: asked.append((book, time.monotonic())), spacing=0.3)
    start = time.monotonic()
    for _ in range(20):
        spacer.notify(1)
    spacer.notify(2)
    assert [b for b, _ in asked] == [1, 2]  # at once, each book on its own
    time.sleep(0.5)
    assert [b for b, _ in asked] == [1, 2, 1]  # one more, at the spacing's end
    assert asked[2][1] - start >= 0.29
    time.sleep(0.4)
    spacer.notify(1)  # quiet for longer than the spacing: at once again
    assert len(asked) == 4
    spacer.notify(1)
    spacer.close()  # the trailing call is dropped with the endpoint
    time.sleep(0.4)
    assert len(asked) == 4


def test_a_request_not_served_may_come_again(sender: Sender, hooked: Hooked) -> None:
    """A signature is spent only by a notification that was served: the sender's retry of
    one answered 404 (or 503) is served in full, not answered as taken already."""
    unknown = "abcdef" + "0" * 26
    body, now = b'{"n": 1}', str(int(time.time()))
    signature = sign(SECRET, now, body)
    assert sender.post(unknown, body, timestamp=now, signature=signature).status == 404
    url = "https://bridge.example.org/.bridge/webhooks/aurinko/" + unknown
    WebhookStore(hooked.engine.db).replace_url(hooked.book.id, url)  # now it is known
    assert sender.post(unknown, body, timestamp=now, signature=signature).status == 200
    assert sender.post(unknown, body, timestamp=now, signature=signature).status == 200
    eventually(lambda: len(hooked.pulls) == 1)
    time.sleep(QUIET + 1)  # past the spacing: the second asked for no pull
    assert len(hooked.pulls) == 1


def test_a_lifecycle_error_rechecks_the_subscription_at_once_and_pulls(
    sender: Sender, hooked: Hooked
) -> None:
    """OAS, Webhooks: a notification may carry ``lifecycleEvent`` (``error`` or ``active``)
    and ``error``. An error asks for the book's subscription to be checked now; every
    notification, events included, still pulls the book."""
    rechecked: list[int] = []
    sender.endpoint.on_subscription_error = rechecked.append
    error = b'{"subscription": 7, "resource": "/contacts", "lifecycleEvent": "error",'
    error += b' "error": "delivery failed\\u0007", "payloads": []}'
    assert sender.post(BOOK_TOKEN, error).status == 200
    assert rechecked == [hooked.book.id]
    eventually(lambda: len(hooked.pulls) == 1)
    active = b'{"subscription": 7, "resource": "/contacts", "lifecycleEvent": "active"}'
    assert sender.post(BOOK_TOKEN, active).status == 200
    assert sender.post(BOOK_TOKEN, b"not json").status == 200
    assert rechecked == [hooked.book.id]  # only the error asks for a check
