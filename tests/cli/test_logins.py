"""Every door that checks a password costs a refused one the same (issue 21, point 6):
CardDAV (Radicale's own check), the status page under ``/.bridge/``, and WebDAV-Push
registration and unregistration each log Radicale's ``Failed login attempt from`` warning,
which the README's fail2ban filter matches with the right address, and each waits out
``[server] login_delay`` (Radicale's ``[auth] delay``) before answering; an accepted
password waits for nothing. ``serve`` runs as a real process, its log read at its end."""

from __future__ import annotations

import queue
import re
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pytest

from bridge.config import ConfigError, load_config
from bridge.htpasswd import set_password
from radicale_plugin.server import radicale_configuration
from tests.cli.serving import start_serve, stop_serve

ROOT = Path(__file__).resolve().parents[2]
LOGIN_DELAY = 2.0
# Where the wait is not the subject (what is logged): still a wait, so its debug lines are
# in the log too, but eight refused logins do not cost eight times LOGIN_DELAY.
SHORT_DELAY = 0.1
FORWARDED = "203.0.113.7"  # what a reverse proxy would say the client is
MKCOL = (
    '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">'
    "<D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>"
    "</D:prop></D:set></D:mkcol>"
)
REGISTER = (
    '<?xml version="1.0" encoding="utf-8"?><P:push-register xmlns:P="https://bitfire.at/webdav-push">'
    "<P:subscription><P:web-push-subscription><P:push-resource>https://127.0.0.1/push</P:push-resource>"
    "</P:web-push-subscription></P:subscription></P:push-register>"
)
# Each door, as (name, method, path, body): the names become the logins refused there.
DOORS = [
    ("carddav", "PROPFIND", "/alice/", ""),
    ("page", "GET", "/.bridge/", ""),
    ("register", "POST", "/alice/local/", REGISTER),
    ("unregister", "DELETE", "/.push/1", ""),
]

# fail2ban's <HOST> (fail2ban/server/failregex.py, usedns other than "no"): an IPv4
# address (perhaps IPv4-mapped), an IPv6 one (perhaps in brackets), or a host name.
_IP4 = r"(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})"
_IP6 = r"(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):))"
_DNS = r"(?P<dns>[\w\-.^_]*\w)"
F2B_HOST = rf"(?:\[?(?:{_IP4}|{_IP6})\]?|{_DNS})"


def fail2ban(failregex: str) -> re.Pattern[str]:
    return re.compile(failregex.replace("<HOST>", F2B_HOST))


def banned(pattern: re.Pattern[str], line: str) -> str | None:
    """The address fail2ban takes from ``line``, or None if the line does not match."""
    found = pattern.search(line)
    if found is None:
        return None
    return found.group("ip4") or found.group("ip6") or found.group("dns")


def readme_failregexes() -> tuple[str, str]:
    """The README's fail2ban filter: its failregex, and the one it gives for serving
    behind a reverse proxy."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```ini\n(?:.*\n)*?\s*\[Definition\]\n((?:.*\n)*?)\s*```", text)
    assert block is not None, "no fail2ban filter in the README"
    direct = re.search(r"^\s*failregex = (.+)$", block.group(1), re.MULTILINE)
    proxied = re.search(r"`failregex = (.+?forwarded for.+?)`", text)
    assert direct is not None and proxied is not None
    return direct.group(1).strip(), proxied.group(1).strip()


@dataclass
class Run:
    url: str
    log: list[str] = field(default_factory=list)  # serve's, once it has stopped
    took: dict[str, float] = field(default_factory=dict)  # login -> seconds its answer took

    def ask(
        self, login: str, password: str, method: str, path: str, body: str, **headers: str
    ) -> httpx.Response:
        started = time.monotonic()
        answer = httpx.request(
            method,
            self.url.rstrip("/") + path,
            content=body,
            headers=headers,
            auth=(login, password),
            timeout=30,
        )
        self.took[login] = time.monotonic() - started
        return answer

    def failed_logins(self) -> dict[str, str]:
        """login -> the line that logged it as a failed login attempt."""
        found = {}
        for line in self.log:
            login = re.search(r"Failed login attempt from .*: '([^']*)' \(", line)
            if login is not None:
                found[login.group(1)] = line
        return found


@contextmanager
def serving_logged(folder: Path, delay: float = LOGIN_DELAY) -> Iterator[Run]:
    """``serve`` with debug lines and ``login_delay = delay``, alice's local book
    ``/alice/local/`` made; its log is in ``Run.log`` once the block is left."""
    set_password(folder / "users.htpasswd", "alice", "alice-pw", rounds=4)
    config = folder / "bridge.toml"
    config.write_text(
        f'[server]\ndata_dir = "var"\nhtpasswd = "users.htpasswd"\nlogin_delay = {delay}\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    process, url = start_serve(config, verbose=2)
    run = Run(url)
    try:
        made = run.ask("alice", "alice-pw", "MKCOL", "/alice/local/", MKCOL)
        assert made.status_code == 201, made.text
        yield run
    finally:
        err = stop_serve(process)
        run.log = err.splitlines()
    assert "Traceback" not in err, err


def _refused_everywhere(run: Run, suffix: str = "", **headers: str) -> list[str]:
    """A wrong password at each door; the logins used."""
    logins = []
    for door, method, path, body in DOORS:
        login = f"mallory-{door}{suffix}"
        answer = run.ask(login, "guess", method, path, body, **headers)
        assert answer.status_code == 401, (door, answer.status_code, answer.text)
        logins.append(login)
    return logins


_REQUEST_ID = re.compile(r" \[request [0-9a-f]+\]$")


def test_a_refused_password_is_logged_alike_and_banned_at_every_door(tmp_path: Path) -> None:
    with serving_logged(tmp_path, SHORT_DELAY) as run:
        direct = _refused_everywhere(run)
        proxied = _refused_everywhere(run, "-proxied", **{"X-Forwarded-For": FORWARDED})
        for door, method, path, body in DOORS:  # an accepted password is not refused
            assert run.ask("alice", "alice-pw", method, path, body).status_code != 401, door
    failed = run.failed_logins()
    assert set(failed) == {*direct, *proxied}, sorted(failed)
    # Radicale's own line (CardDAV) and the doors' differ in the login (and the request
    # id that ends every line of a request) alone.
    assert all(_REQUEST_ID.search(line) for line in failed.values()), failed
    shapes = {_REQUEST_ID.sub("", failed[login]).replace(login, "<login>") for login in direct}
    assert shapes == {"WARNING radicale: Failed login attempt from 127.0.0.1: '<login>' (htpasswd)"}
    shapes = {_REQUEST_ID.sub("", failed[login]).replace(login, "<login>") for login in proxied}
    assert len(shapes) == 1, shapes
    assert "alice" not in failed

    rule, behind_proxy = (fail2ban(regex) for regex in readme_failregexes())
    for login in direct:
        assert banned(rule, failed[login]) == "127.0.0.1", failed[login]
    for login in proxied:
        # Served directly, a client's own X-Forwarded-For changes nothing; behind a proxy
        # that sets it, the client named there is banned.
        assert banned(rule, failed[login]) == "127.0.0.1", failed[login]
        assert banned(behind_proxy, failed[login]) == FORWARDED, failed[login]
    # Nothing else serve logged is taken for a failed login.
    others = [line for line in run.log if line not in failed.values()]
    assert not [line for line in others if banned(rule, line) or banned(behind_proxy, line)]


@pytest.mark.slow
def test_a_refused_password_waits_at_every_door(tmp_path: Path) -> None:
    with serving_logged(tmp_path) as run:
        refused = _refused_everywhere(run)
        for door, method, path, body in DOORS:
            assert run.ask("alice", "alice-pw", method, path, body).status_code != 401, door
    # Radicale's [auth] delay times a random factor from 0.5 on; the lower bound alone is
    # a wall-clock check, and a generous one.
    for login in refused:
        assert run.took[login] >= 0.45 * LOGIN_DELAY, (login, run.took[login])
    # Which answers waited, from serve's own account (debug lines): the refused ones at
    # the doors, each for at least half the delay, and no accepted one.
    waits = [
        float(found.group(1))
        for line in run.log
        if (found := re.search(r"Failed login, sleeping \S+: ([0-9.]+) sec", line))
    ]
    assert len(waits) == len(refused), waits
    assert all(wait >= 0.5 * LOGIN_DELAY for wait in waits), waits


@pytest.mark.parametrize(
    ("line", "expected"), [("", 1.0), ("login_delay = 0\n", 0.0), ("login_delay = 2.5\n", 2.5)]
)
def test_login_delay_is_radicale_s_auth_delay(tmp_path: Path, line: str, expected: float) -> None:
    path = tmp_path / "bridge.toml"
    path.write_text(f'[server]\nhtpasswd = "users"\n{line}', encoding="utf-8")
    config = load_config(path)
    assert config.login_delay == expected
    assert radicale_configuration(config, "test").get("auth", "delay") == expected


@pytest.mark.parametrize("value", ["-1", "inf", "nan", '"1"'])
def test_a_login_delay_that_is_no_wait_is_a_clear_error(tmp_path: Path, value: str) -> None:
    path = tmp_path / "bridge.toml"
    path.write_text(f"[server]\nlogin_delay = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="login_delay"):
        load_config(path)


def _into(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:  # until serve closes it
        lines.put(line)


@pytest.mark.slow
def test_a_refused_password_waits_alone(tmp_path: Path) -> None:
    """While a refused login at a door waits out its delay, other users' requests, at
    that door and elsewhere, are answered: the wait holds no lock and no shared worker."""
    set_password(tmp_path / "users.htpasswd", "alice", "alice-pw", rounds=4)
    config = tmp_path / "bridge.toml"
    config.write_text(
        '[server]\ndata_dir = "var"\nhtpasswd = "users.htpasswd"\nlogin_delay = 8\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    process, url = start_serve(config)
    assert process.stderr is not None
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_into, args=(process.stderr, lines), daemon=True)
    reader.start()
    run = Run(url)
    refused = threading.Thread(
        target=run.ask, args=("mallory", "guess", "POST", "/alice/local/", REGISTER)
    )
    try:
        made = run.ask("alice", "alice-pw", "MKCOL", "/alice/local/", MKCOL)
        assert made.status_code == 201, made.text
        refused.start()
        while "Failed login attempt" not in (line := lines.get(timeout=30)):
            pass
        assert "'mallory'" in line  # logged just before its wait (4-12 s) begins
        for door, method, path, body in DOORS:
            answer = run.ask("alice", "alice-pw", method, path, body)
            assert answer.status_code != 401, door
        assert refused.is_alive(), "the refused login was answered before the others"
    finally:
        refused.join(60)
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        reader.join(10)
    assert run.took["mallory"] >= 4
