"""Webhooks with ``serve`` as a real process and the sandbox as Aurinko (issue 16): the
book is subscribed at start (Aurinko's check of the URL answered by serve itself), a
change made at Aurinko reaches a CardDAV client within moments although polling is an hour
away, forged, unsigned, stale and replayed notifications cost nothing, a burst costs two
pulls at most, a lapsed subscription is made again, dropped notifications leave polling
to converge, and ``account remove`` deletes the subscription."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bridge.aurinko import AurinkoClient
from bridge.config import StoreConfig
from bridge.htpasswd import set_password
from bridge.sandbox import DeliveryCounts, FaultConfig, SandboxApp
from bridge.webhooks import sign
from tests.cli.serving import BRIDGE, stop_serve
from tests.conftest import TOKEN
from tests.ports import reserved_port
from tests.postgres import store_toml
from tests.wait import eventually

SECRET = "whsec-cli-0123456789abcdef"
PULL = "GET /v1/contacts/sync/updated"  # one per pull while nothing changed
SYNC = (
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}'
    "</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop>"
    "</D:sync-collection>"
)

pytestmark = pytest.mark.sandbox(signing_secret=SECRET)


def _config(
    folder: Path,
    sandbox_url: str,
    port: int,
    *,
    interval: float = 3600,
    check_interval: float = 600,
    store: StoreConfig | None = None,
) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "work.token").write_text(TOKEN + "\n")
    (folder / "work.token").chmod(0o600)
    (folder / "signing.secret").write_text(SECRET + "\n")
    (folder / "signing.secret").chmod(0o600)
    set_password(folder / "users.htpasswd", "alice", "alice-pw", rounds=4)
    config = folder / "bridge.toml"
    config.write_text(
        f'[server]\ndata_dir = "var"\nhtpasswd = "users.htpasswd"\nport = {port}\n\n'
        f"[sync]\ninterval = {interval}\nfreshness = 3600\n\n"
        f'[webhooks]\npublic_url = "http://127.0.0.1:{port}"\n'
        f'signing_secret_file = "signing.secret"\ncheck_interval = {check_interval}\n\n'
        f'[[accounts]]\nname = "work"\nuser = "alice"\nbase_url = "{sandbox_url}"\n'
        f'token_file = "work.token"\n{store_toml(store)}',
        encoding="utf-8",
    )
    config.chmod(0o600)
    return config


def _start(config: Path) -> tuple[subprocess.Popen[str], str]:
    """``serve`` on the port its configuration names (its public URL names it too)."""
    process = subprocess.Popen(
        [*BRIDGE, "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    assert process.stdout is not None
    banner = process.stdout.readline()
    if "CardDAV server at" not in banner:
        process.kill()
        raise AssertionError(banner + process.communicate(timeout=60)[1])
    return process, banner.split("CardDAV server at ", 1)[1].strip()


@contextmanager
def _serving(config: Path) -> Iterator[str]:
    process, url = _start(config)
    try:
        yield url
    finally:
        err = stop_serve(process)
    assert "Traceback" not in err, err


def _subscribed(sandbox: SandboxApp) -> dict:
    """The account's one active subscription, once serve has made it."""
    eventually(
        lambda: [s["active"] for s in sandbox.subscriptions(TOKEN)] == [True], what="subscription"
    )
    (subscription,) = sandbox.subscriptions(TOKEN)
    return subscription


def _pulls(sandbox: SandboxApp) -> int:
    return sandbox.handled().get(PULL, 0)


def _settled(sandbox: SandboxApp) -> int:
    """The pull count once serve's start-up sync is over (no pull for half a second)."""
    count = _pulls(sandbox)
    while True:
        time.sleep(0.5)
        now = _pulls(sandbox)
        if now == count and now > 0:
            return now
        count = now


def _sync(client: httpx.Client, token: str) -> tuple[str, set[str]]:
    answer = client.request(
        "REPORT",
        "alice/work/",
        content=SYNC.format(token=token),
        headers={"Depth": "1", "Content-Type": "application/xml"},
    )
    assert answer.status_code == 207, answer.text
    tree = ET.fromstring(answer.content)
    hrefs = {h.text or "" for h in tree.iter("{DAV:}href")}
    return tree.findtext("{DAV:}sync-token") or "", {h for h in hrefs if h.endswith(".vcf")}


def _post(url: str, body: bytes, *, timestamp: str | None = None, signature: str | None = None,
          signed: bool = True, client: httpx.Client | None = None) -> httpx.Response:  # fmt: skip
    """A notification as Aurinko sends it: signed with the signing secret, unless not."""
    headers = {"Content-Type": "application/json"}
    if signed:
        when = timestamp or str(int(time.time()))
        headers["X-Aurinko-Request-Timestamp"] = when
        headers["X-Aurinko-Signature"] = signature or sign(SECRET, when, body)
    if client is not None:
        return client.post(url, content=body, headers=headers)
    return httpx.post(url, content=body, headers=headers, timeout=10)


def test_a_change_at_aurinko_reaches_a_client_within_moments(
    tmp_path: Path, sandbox_app: SandboxApp, live_sandbox: str
) -> None:
    port = reserved_port()
    with _serving(_config(tmp_path, live_sandbox, port)) as url:
        subscription = _subscribed(sandbox_app)
        assert subscription["notificationUrl"].startswith(
            f"http://127.0.0.1:{port}/.bridge/webhooks/aurinko/"
        )
        assert subscription["resource"] == "/contacts"
        _settled(sandbox_app)
        client = httpx.Client(base_url=url, auth=("alice", "alice-pw"), timeout=30)
        token, cards = _sync(client, "")
        assert cards == set()
        with AurinkoClient(TOKEN, live_sandbox) as other_device:
            other_device.create({"name": {"givenName": "Ada", "familyName": "Lovelace"}})
        took = eventually(lambda: _sync(client, token)[1], timeout=5, what="the new card")
        assert took < 3
        print(f"\na change at Aurinko reached a CardDAV client after {took:.2f} s")


def test_forged_unsigned_stale_replayed_and_bursts(
    tmp_path: Path, sandbox_app: SandboxApp, live_sandbox: str
) -> None:
    with _serving(_config(tmp_path, live_sandbox, reserved_port())):
        hook = _subscribed(sandbox_app)["notificationUrl"]
        before = _settled(sandbox_app)
        body = b'{"subscription":1,"resource":"/contacts","payloads":[]}'
        now, stale = str(int(time.time())), str(int(time.time()) - 301)
        refused = [
            _post(hook, body, signed=False),  # unsigned
            _post(hook, body, signature=sign("not-the-secret", now, body)),  # forged
            _post(hook, body, timestamp=stale),  # stale
            _post(hook + "0", body),  # not a book's URL: signed, yet 404
        ]
        assert [r.status_code for r in refused] == [401, 401, 401, 404]
        signature = sign(SECRET, now, body)
        assert _post(hook, body, timestamp=now, signature=signature).status_code == 200
        eventually(lambda: _pulls(sandbox_app) == before + 1, what="the pull")
        replayed = _post(hook, body, timestamp=now, signature=signature)
        assert replayed.status_code == 200  # a redelivery: answered, no new work (issue 21)
        time.sleep(1.5)  # past the spacing: a pull asked for would have begun
        assert _pulls(sandbox_app) == before + 1

        # 50 at once (each one new and signed right): two pulls at most.
        statuses: list[int] = []

        def send(n: int) -> None:
            with httpx.Client(timeout=10) as client:  # one connection, kept open
                for i in range(5):
                    one = b'{"payloads":[{"id":"%d-%d","changeType":"updated"}]}' % (n, i)
                    statuses.append(_post(hook, one, client=client).status_code)

        burst = [threading.Thread(target=send, args=(n,)) for n in range(10)]
        started = time.monotonic()
        for thread in burst:
            thread.start()
        for thread in burst:
            thread.join()
        took = time.monotonic() - started
        assert statuses == [200] * 50
        time.sleep(2.5)
        pulls = _pulls(sandbox_app) - before - 1
        assert 1 <= pulls <= 2, f"{pulls} pulls for a burst of 50 in {took:.2f} s"
        print(f"\na burst of 50 notifications in {took:.2f} s: {pulls} pulls")


def test_a_lapsed_subscription_is_made_again_at_the_next_check(
    tmp_path: Path, sandbox_app: SandboxApp, live_sandbox: str
) -> None:
    with _serving(_config(tmp_path, live_sandbox, reserved_port(), check_interval=1)) as url:
        first = _subscribed(sandbox_app)
        sandbox_app.lapse_subscription(first["id"])
        took = eventually(
            lambda: [s["active"] for s in sandbox_app.subscriptions(TOKEN)] == [True],
            what="renewal",
        )
        assert took < 5
        (second,) = sandbox_app.subscriptions(TOKEN)
        assert second["id"] != first["id"]
        assert second["notificationUrl"] == first["notificationUrl"]
        _settled(sandbox_app)
        client = httpx.Client(base_url=url, auth=("alice", "alice-pw"), timeout=30)
        token, _ = _sync(client, "")
        with AurinkoClient(TOKEN, live_sandbox) as other_device:
            other_device.create({"name": {"givenName": "After", "familyName": "Renewal"}})
        eventually(lambda: _sync(client, token)[1], timeout=5, what="the new card")


def test_when_notifications_never_come_polling_still_converges(
    tmp_path: Path, sandbox_app: SandboxApp, live_sandbox: str
) -> None:
    sandbox_app.set_webhook_faults(drop_rate=1.0)
    with _serving(_config(tmp_path, live_sandbox, reserved_port(), interval=2)) as url:
        _subscribed(sandbox_app)
        client = httpx.Client(base_url=url, auth=("alice", "alice-pw"), timeout=30)
        token, _ = _sync(client, "")
        with AurinkoClient(TOKEN, live_sandbox) as other_device:
            for n in range(3):
                other_device.create({"name": {"givenName": f"Polled {n}"}})
        eventually(lambda: len(_sync(client, token)[1]) == 3, timeout=15, what="the polled cards")
        assert sandbox_app.wait_for_deliveries(5)
        counts = sandbox_app.deliveries()
        assert sum(c.dropped for c in counts.values()) >= 1
        assert sum(c.delivered for c in counts.values()) == 0


@pytest.mark.parametrize("purge", [False, True], ids=["keep-local-copy", "purge"])
def test_account_remove_deletes_the_subscription(
    tmp_path: Path, sandbox_app: SandboxApp, live_sandbox: str, purge: bool
) -> None:
    config = _config(tmp_path, live_sandbox, reserved_port())
    with _serving(config):
        subscription = _subscribed(sandbox_app)
    removed = subprocess.run(
        [*BRIDGE, "account", "remove", "work", "--config", str(config)]
        + (["--purge"] if purge else []),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert removed.returncode == 0, removed.stderr
    assert f"Deleted its webhook subscription {subscription['id']} at Aurinko." in removed.stdout
    assert sandbox_app.subscriptions(TOKEN) == []


def test_account_remove_goes_on_when_aurinko_is_down(
    tmp_path: Path, sandbox_app: SandboxApp, live_sandbox: str
) -> None:
    config = _config(tmp_path, live_sandbox, reserved_port())
    with _serving(config):
        subscription = _subscribed(sandbox_app)
    sandbox_app.set_faults(error_rate=1.0, error_statuses=(503,))
    removed = subprocess.run(
        [*BRIDGE, "account", "remove", "work", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert removed.returncode == 0, removed.stderr
    assert (
        f"Could not delete its webhook subscription {subscription['id']} at Aurinko"
        in removed.stdout
    )
    assert "Removed [[accounts]] alice/work" in removed.stdout
    assert not (tmp_path / "work.token").exists() or "Kept its token file" in removed.stdout
    sandbox_app.set_faults(error_rate=0.0)
    assert [s["id"] for s in sandbox_app.subscriptions(TOKEN)] == [subscription["id"]]


def test_two_instances_on_postgresql(
    tmp_path: Path, sandbox_app: SandboxApp, live_sandbox: str, pg_store: StoreConfig
) -> None:
    """A notification that reaches the instance not syncing the book is handed to the one
    that does; when that one dies, the survivor takes the book and its subscription over."""
    port_a, port_b = reserved_port(), reserved_port()
    first, _ = _start(_config(tmp_path / "a", live_sandbox, port_a, store=pg_store))
    second: subprocess.Popen[str] | None = None
    try:
        hook = _subscribed(sandbox_app)["notificationUrl"]
        assert hook.startswith(f"http://127.0.0.1:{port_a}/")
        as_b = live_sandbox.replace("127.0.0.1", "localhost")  # b's requests, told apart
        second, _ = _start(_config(tmp_path / "b", as_b, port_b, store=pg_store))
        time.sleep(1.0)  # b has looked, and found the book taken
        pulled_by_a = sandbox_app.handled("127.0.0.1").get(PULL, 0)
        at_b = hook.replace(f":{port_a}/", f":{port_b}/")
        assert _post(at_b, b'{"payloads":[]}').status_code == 200
        eventually(
            lambda: sandbox_app.handled("127.0.0.1").get(PULL, 0) > pulled_by_a, what="a's pull"
        )
        assert sandbox_app.handled("localhost").get(PULL, 0) == 0

        first.kill()  # no clean shutdown: b must take the book over by itself
        first.communicate(timeout=30)
        eventually(
            lambda: (
                [
                    (s["active"], s["notificationUrl"].startswith(f"http://127.0.0.1:{port_b}/"))
                    for s in sandbox_app.subscriptions(TOKEN)
                ]
                == [(True, True)]
            ),
            what="b's subscription",
        )
        time.sleep(1.0)  # b's own sync of the book it took is over
        pulled_by_b = sandbox_app.handled("localhost").get(PULL, 0)
        with AurinkoClient(TOKEN, live_sandbox) as other_device:
            other_device.create({"name": {"givenName": "After", "familyName": "Takeover"}})

        def pulled() -> bool:
            return sandbox_app.handled("localhost").get(PULL, 0) > pulled_by_b

        assert eventually(pulled, timeout=5, what="b's pull") < 3
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate(timeout=30)
        if second is not None:
            assert "Traceback" not in stop_serve(second)


def test_a_lifecycle_error_makes_serve_renew_the_subscription_at_once(
    tmp_path: Path, sandbox_app: SandboxApp, live_sandbox: str
) -> None:
    """Issue 22: Aurinko's lifecycle event ``error`` (the provider's side of the
    subscription broke) makes serve check the subscription now, although its next round of
    checks is ten minutes away: a new active subscription follows within moments."""
    with _serving(_config(tmp_path, live_sandbox, reserved_port(), check_interval=600)):
        first = _subscribed(sandbox_app)
        sandbox_app.fail_subscription(first["id"], "the provider's subscription expired")
        took = eventually(
            lambda: [s["active"] for s in sandbox_app.subscriptions(TOKEN)] == [True],
            what="renewal",
        )
        (renewed,) = sandbox_app.subscriptions(TOKEN)
        assert renewed["id"] != first["id"] and took < 10


def test_a_subscription_active_again_is_kept_healthy_and_nothing_is_made_anew(
    tmp_path: Path, sandbox_app: SandboxApp, live_sandbox: str
) -> None:
    """Issue 22, point 6: OAS, Webhooks, ``lifecycleEvent`` "``error`` or ``active``, when
    subscription state changes". The subscription errs while Aurinko cannot be asked for
    a new one (every /v1 call answers 503), then comes back: its URL validated again, it
    sends ``active``. serve records it healthy again (said at info), makes no subscription
    anew, and the recovered one carries the next change."""
    config = _config(tmp_path, live_sandbox, reserved_port(), check_interval=600)
    process = subprocess.Popen(
        [*BRIDGE, "-v", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    lines: list[str] = []
    assert process.stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(process.stderr or ()), daemon=True)
    reader.start()

    def logged(words: str) -> bool:
        return any(words in line for line in list(lines))

    try:
        first = _subscribed(sandbox_app)
        sandbox_app.set_faults(FaultConfig(error_rate=1.0, error_statuses=(503,), retry_after=0))
        sandbox_app.fail_subscription(first["id"], "the provider's subscription expired")
        eventually(lambda: logged("no subscription ("), timeout=60, what="the failed check")
        sandbox_app.set_faults(FaultConfig())
        recovered = sandbox_app.recover_subscription(first["id"])
        assert recovered["active"] and "failDescription" not in recovered
        eventually(lambda: logged("active again; notifications flow"), what="the recovery")
        assert [(s["id"], s["active"]) for s in sandbox_app.subscriptions(TOKEN)] == [
            (first["id"], True)
        ]

        def delivered() -> int:
            return sandbox_app.deliveries().get(first["id"], DeliveryCounts()).delivered

        before = delivered()
        with AurinkoClient(TOKEN, live_sandbox) as other_device:
            other_device.create({"name": {"givenName": "After", "familyName": "Recovery"}})
        eventually(lambda: delivered() > before, what="a delivery")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        reader.join(10)
    recovery = [line for line in lines if "active again; notifications flow" in line]
    assert len(recovery) == 1 and "INFO" in recovery[0], recovery
    assert sum("subscribed (subscription" in line for line in lines) == 1  # the first only
    assert not any("Traceback" in line for line in lines)
