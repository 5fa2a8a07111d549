"""Issue 21 with ``serve`` as a real process and the sandbox as Aurinko: the URL checks of
two books made in one second both pass, a notification Aurinko sends again is answered 200
without new work (on one instance, and on another sharing a PostgreSQL store), an unsigned
URL check tells nobody whether a token exists, and webhook tokens stay out of the logs.
(The helpers are those of tests/cli/test_webhooks.py.)"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from bridge.aurinko import AurinkoClient
from bridge.config import StoreConfig
from bridge.sandbox import SandboxApp
from bridge.store import open_database
from bridge.store.webhooks import WebhookStore
from bridge.webhooks import sign
from tests.cli.serving import BRIDGE, stop_serve
from tests.cli.test_webhooks import (
    PULL,
    SECRET,
    _config,
    _post,
    _pulls,
    _serving,
    _settled,
    _start,
    _subscribed,
)
from tests.conftest import OTHER_TOKEN, TOKEN
from tests.ports import reserved_port
from tests.wait import eventually

pytestmark = pytest.mark.sandbox(signing_secret=SECRET)

BODY = b'{"subscription":1,"resource":"/contacts","payloads":[]}'
QUIET = 1.5  # past the spacing of pulls: a pull asked for would have begun


def _add_book(config: Path, name: str, token: str, sandbox_url: str) -> None:
    """A second account (another Aurinko account) in the configuration ``_config`` wrote."""
    token_file = config.parent / f"{name}.token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    with config.open("a", encoding="utf-8") as out:
        out.write(
            f'\n[[accounts]]\nname = "{name}"\nuser = "alice"\nbase_url = "{sandbox_url}"\n'
            f'token_file = "{name}.token"\n'
        )


def _active(sandbox: SandboxApp, token: str) -> list[bool]:
    return [s["active"] for s in sandbox.subscriptions(token)]


def test_two_books_url_checks_in_one_second_both_pass(
    tmp_path: Path, sandbox_app: SandboxApp, live_sandbox: str
) -> None:
    """Point 4: every URL check has an empty body, so two made in one second carry one
    signature; the second used to be refused as a replay, leaving its book without a
    subscription until the next check (600 s). The sandbox's clock is held still, so the
    two checks of this start share their second every time."""
    held = float(int(time.time()))
    sandbox_app.set_clock(lambda: held)
    config = _config(tmp_path, live_sandbox, reserved_port())
    _add_book(config, "home", OTHER_TOKEN, live_sandbox)
    with _serving(config):
        eventually(
            lambda: _active(sandbox_app, TOKEN) == [True] == _active(sandbox_app, OTHER_TOKEN),
            what="both subscriptions",
        )


def test_a_notification_sent_again_is_answered_200_without_new_work(
    tmp_path: Path, sandbox_app: SandboxApp, live_sandbox: str
) -> None:
    """Point 5: Aurinko sends a notification again, byte for byte, when it did not get the
    200; refusing it counted as a failed delivery, and five of those deactivate the
    subscription. Forged, unsigned and stale ones are still refused."""
    with _serving(_config(tmp_path, live_sandbox, reserved_port())):
        hook = _subscribed(sandbox_app)["notificationUrl"]
        before = _settled(sandbox_app)
        now, stale = str(int(time.time())), str(int(time.time()) - 301)
        refused = [
            _post(hook, BODY, signed=False),
            _post(hook, BODY, signature=sign("not-the-secret", now, BODY)),
            _post(hook, BODY, timestamp=stale),
        ]
        assert [r.status_code for r in refused] == [401, 401, 401]
        signature = sign(SECRET, now, BODY)
        first = _post(hook, BODY, timestamp=now, signature=signature)
        assert first.status_code == 200
        eventually(lambda: _pulls(sandbox_app) == before + 1, what="the pull")
        again = [_post(hook, BODY, timestamp=now, signature=signature) for _ in range(3)]
        assert [r.status_code for r in again] == [200, 200, 200]
        time.sleep(QUIET)
        assert _pulls(sandbox_app) == before + 1  # no new work

        # The sandbox sending each notification twice (identical bytes and signature).
        sandbox_app.set_webhook_faults(duplicate_rate=1.0)
        with AurinkoClient(TOKEN, live_sandbox) as other_device:
            other_device.create({"name": {"givenName": "Twice", "familyName": "Sent"}})
        assert sandbox_app.wait_for_deliveries(10)
        counts = list(sandbox_app.deliveries().values())
        assert sum(c.duplicated for c in counts) >= 1
        assert sum(c.failed for c in counts) == 0
        assert _active(sandbox_app, TOKEN) == [True]


def test_a_notification_sent_again_to_another_instance_is_harmless(
    tmp_path: Path, sandbox_app: SandboxApp, live_sandbox: str, pg_store: StoreConfig
) -> None:
    """Point 5, two instances on PostgreSQL: each remembers the notifications it took, not
    the other's, so one sent again to the other instance is a new notification there; it
    is answered 200 and costs at most one more pull of the book, by its owner."""
    port_a, port_b = reserved_port(), reserved_port()
    first, _ = _start(_config(tmp_path / "a", live_sandbox, port_a, store=pg_store))
    second: subprocess.Popen[str] | None = None
    try:
        hook = _subscribed(sandbox_app)["notificationUrl"]
        as_b = live_sandbox.replace("127.0.0.1", "localhost")  # b's requests, told apart
        second, _ = _start(_config(tmp_path / "b", as_b, port_b, store=pg_store))
        time.sleep(1.0)  # b has looked, and found the book taken
        owner_pulls = _settled(sandbox_app)
        at_b = hook.replace(f":{port_a}/", f":{port_b}/")
        now = str(int(time.time()))
        signature = sign(SECRET, now, BODY)
        statuses = [
            _post(url, BODY, timestamp=now, signature=signature).status_code
            for url in (hook, at_b, hook, at_b)
        ]
        assert statuses == [200, 200, 200, 200]
        eventually(lambda: _pulls(sandbox_app) > owner_pulls, what="a's pull")
        time.sleep(2 * QUIET)
        assert _pulls(sandbox_app) <= owner_pulls + 2
        assert sandbox_app.handled("localhost").get(PULL, 0) == 0  # b never pulled
    finally:
        assert "Traceback" not in stop_serve(first)
        if second is not None:
            assert "Traceback" not in stop_serve(second)


def test_an_unsigned_url_check_does_not_tell_whether_a_token_exists(
    tmp_path: Path, sandbox_app: SandboxApp, live_sandbox: str
) -> None:
    """Point 6: unsigned, the check of a book's URL and of a made-up one get the same
    answer (the echo), so it cannot be used to find which tokens exist."""
    with _serving(_config(tmp_path, live_sandbox, reserved_port())):
        hook = _subscribed(sandbox_app)["notificationUrl"]
        made_up = hook[:-32] + "0123456789abcdef" * 2
        answers = [
            httpx.post(url, params={"validationToken": "probe"}, timeout=10)
            for url in (hook, made_up)
        ]
        shapes = [(a.status_code, a.content, _headers(a)) for a in answers]
        assert shapes[0] == shapes[1]
        assert shapes[0][:2] == (200, b"probe")
        # Signed by Aurinko, the check of an unknown URL fails (only Aurinko learns it).
        now = str(int(time.time()))
        headers = {
            "X-Aurinko-Request-Timestamp": now,
            "X-Aurinko-Signature": sign(SECRET, now, b""),
        }
        signed = httpx.post(made_up, params={"validationToken": "x"}, headers=headers, timeout=10)
        assert signed.status_code == 404


def _headers(answer: httpx.Response) -> dict[str, str]:
    """What could tell two answers apart, but for what differs in every answer."""
    return {k: v for k, v in answer.headers.items() if k.lower() not in ("date", "x-request-id")}


def test_webhook_tokens_never_reach_the_log(
    tmp_path: Path, sandbox_app: SandboxApp, live_sandbox: str
) -> None:
    """Point 7: a failed subscription (Aurinko cannot reach the URL, and quotes it in its
    error) is logged at the default level without the URL's token; at -vv, where each
    request line is logged, the token does not show either."""
    config = _config(tmp_path / "down", live_sandbox, reserved_port())
    unreachable = f'public_url = "http://127.0.0.1:{reserved_port()}"'
    text = config.read_text(encoding="utf-8")
    config.write_text(
        "\n".join(
            unreachable if line.startswith("public_url") else line for line in text.splitlines()
        )
        + "\n",
        encoding="utf-8",
    )
    process, _ = _start(config)
    err = ""
    try:
        eventually(
            lambda: sandbox_app.handled().get("POST /v1/subscriptions", 0) >= 1,
            what="the subscription's attempt",
        )
        time.sleep(1.0)  # Aurinko's check of the URL failed, and serve said so
    finally:
        err = stop_serve(process)
    token = _book_token(tmp_path / "down")
    assert "no subscription" in err and "/.bridge/webhooks/aurinko/<token>" in err, err
    assert token not in err

    loud = _config(tmp_path / "loud", live_sandbox, reserved_port())
    process = subprocess.Popen(
        [*BRIDGE, "-vv", "serve", "--config", str(loud)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    assert process.stdout is not None and "CardDAV server at" in process.stdout.readline()
    try:
        hook = _subscribed(sandbox_app)["notificationUrl"]
        assert _post(hook, BODY).status_code == 200
        assert _post(hook + "?x=1", BODY, signed=False).status_code == 401
        time.sleep(1.0)
    finally:
        err = stop_serve(process)
    token = hook.rsplit("/", 1)[1]
    assert "/.bridge/webhooks/aurinko/<token>" in err  # the request lines, redacted
    assert token not in err


def _book_token(data: Path) -> str:
    """The token of the one book's notification URL, once serve has recorded it."""
    db = open_database(data / "var", None)
    try:
        rows = WebhookStore(db).all()
    finally:
        db.close()
    return rows[0].token if rows else ""
