"""``aurinko-bridge account add|list|remove`` as a user meets them: the sandbox (Aurinko and
its consent page) in its own process, the command in another, a real headless browser
clicking Approve or Deny, and ``serve`` serving what was linked."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from playwright.sync_api import Page, Route

from bridge.aurinko import BadRequestError, UnauthorizedError
from bridge.aurinko.oauth import exchange_code
from bridge.htpasswd import set_password
from tests.cli.serving import serving
from tests.ports import reserved_port
from tests.wait import polled

BRIDGE = [sys.executable, "-m", "bridge"]
TOKEN = "sandbox-seed-token-0123456789"  # the sandbox's first account, given at start
CLIENT_ID = "bridge-app"
SECRET = "app-secret-0123456789"
ENV = dict(os.environ, PYTHONUNBUFFERED="1")
T = TypeVar("T")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``aurinko-bridge sandbox`` with an OAuth application, in its own process: its /v1 URL."""
    db = tmp_path_factory.mktemp("sandbox") / "sandbox.sqlite3"
    process = subprocess.Popen(
        [
            *BRIDGE,
            "sandbox",
            "--db",
            str(db),
            "--token",
            TOKEN,
            "--port",
            "0",
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            SECRET,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert process.stdout is not None
    banner = process.stdout.readline()
    found = re.search(r"listening on (http://127\.0\.0\.1:\d+/v1)", banner)
    if found is None:
        process.kill()
        raise AssertionError(banner + process.communicate(timeout=30)[1])
    try:
        yield found.group(1)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


@dataclass
class Setup:
    config: Path
    folder: Path
    original: bytes

    def unchanged(self) -> bool:
        """The configuration byte for byte as written, and no token written."""
        tokens = self.folder / "tokens"
        return self.config.read_bytes() == self.original and (
            not tokens.exists() or not any(tokens.iterdir())
        )


CONFIG = """\
# My bridge. These notes must survive `account add` and `account remove`.
[server]
data_dir = "var"
htpasswd = "users.htpasswd"   # alice only

[sync]
interval = 3600

# The Aurinko application (here: the sandbox).
[aurinko]
client_id = "{client_id}"
client_secret_file = "app.secret"
base_url = "{url}"
callback_port = {port}   # a free port, registered with the sandbox: tests share the machine
"""


def free_port() -> int:
    """A free port for the callback, registered before account add listens on it."""
    return reserved_port()


def register(sandbox: str, port: int) -> str:
    """Register ``http://127.0.0.1:PORT/callback`` with the sandbox's application, as its
    owner would on the portal's settings page; the URL."""
    url = f"http://127.0.0.1:{port}/callback"
    answer = httpx.post(
        f"{sandbox.removesuffix('/v1')}/_sandbox/return-urls",
        json={"url": url},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    answer.raise_for_status()
    return url


def _setup(
    folder: Path,
    url: str,
    *,
    secret: str = SECRET,
    users: tuple[str, ...] = ("alice",),
    registered: bool = True,
) -> Setup:
    """A configuration whose callback port (free) is registered with the sandbox at
    ``url``, unless ``registered`` is False (no sandbox there)."""
    port = free_port()
    if registered:
        register(url, port)
    for user in users:
        set_password(folder / "users.htpasswd", user, f"{user}-pw", rounds=4)
    (folder / "app.secret").write_text(secret + "\n")
    (folder / "app.secret").chmod(0o600)
    config = folder / "bridge.toml"
    config.write_text(CONFIG.format(client_id=CLIENT_ID, url=url, port=port), encoding="utf-8")
    config.chmod(0o600)
    return Setup(config, folder, config.read_bytes())


@pytest.fixture
def setup(tmp_path: Path, sandbox: str) -> Setup:
    return _setup(tmp_path, sandbox)


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BRIDGE, *args], capture_output=True, text=True, timeout=timeout, check=False, env=ENV
    )


def start_consent(name: str, *args: str) -> tuple[subprocess.Popen[str], str]:
    """``aurinko-bridge ARGS`` (``account add`` or ``relink`` with --no-browser) for the
    account ``name``; the address it prints to open."""
    process = subprocess.Popen(
        [*BRIDGE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        preexec_fn=_as_from_a_shell,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.fullmatch(rf"Open this address to link {name}: (\S+)\n", line)
    if found is None:
        process.kill()
        raise AssertionError(line + process.communicate(timeout=30)[1])
    return process, found.group(1)


def start_add(config: Path, name: str, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """``account add NAME --service Google --no-browser``; the address it prints."""
    args = ["account", "add", name, "--service", "Google", "--config", str(config)]
    return start_consent(name, *args, "--no-browser", *extra)


def _signal_state(pid: int) -> str:
    """Which signals the process ignores, blocks and has pending (Linux)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return "no /proc"
    return ", ".join(line for line in lines if line.startswith(("SigPnd", "SigBlk", "SigIgn")))


def _as_from_a_shell() -> None:
    """In the child before it runs: Ctrl-C as a shell would leave it (not ignored, not
    blocked), whatever the test process's own state."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        signals = _signal_state(process.pid)
        process.send_signal(signal.SIGUSR1)  # the command writes its threads' stacks
        time.sleep(1)
        process.kill()
        out, err = process.communicate(timeout=30)
        raise AssertionError(f"the command did not end ({signals}); stacks:\n{err}") from None
    assert "Traceback" not in err, err
    return process.returncode, out, err


def return_url(authorize: str) -> str:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize).query)
    assert query["scopes"] == ["Contacts.Read Contacts.ReadWrite"]
    assert query["serviceType"] == ["Google"] and query["clientId"] == [CLIENT_ID]
    assert query["responseType"] == ["code"] and len(query["state"][0]) >= 40
    assert query["ensureScopes"] == ["true"]  # a consent without write access is refused
    return query["returnUrl"][0]


def consent(page: Page, url: str, button: str) -> str:
    """Open the consent page, click ``#approve`` or ``#deny``; the page the browser ends on."""
    page.goto(url)
    page.click(f"#{button}")
    page.wait_for_url(re.compile(r"http://127\.0\.0\.1:\d+/callback\?.*"))
    page.wait_for_load_state()
    return page.inner_text("body")


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# -- the consent flow ---------------------------------------------------------------------


def test_add_links_through_the_consent_page_and_serve_serves_the_account(
    setup: Setup, sandbox: str, page: Page
) -> None:
    process, url = start_add(setup.config, "work", "--display-name", "Work contacts")
    callback = return_url(url)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/callback", callback)
    # Browsers ask for other paths (/favicon.ico): 404, and the command keeps waiting.
    assert httpx.get(callback.replace("/callback", "/favicon.ico")).status_code == 404
    assert "alice/work is linked; you can close this window" in consent(page, url, "approve")
    callback_with_code = page.url
    status, out, err = finish(process)
    assert status == 0, err
    assert "Added [[accounts]] alice/work" in out and "restart `aurinko-bridge serve`" in out

    token_file = setup.folder / "tokens" / "alice.work.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
    token = token_file.read_text().strip()
    assert token and token != TOKEN
    assert token not in out + err  # never printed
    text = setup.config.read_text(encoding="utf-8")
    assert text == setup.original.decode() + (
        f'\n[[accounts]]\nname = "work"\nuser = "alice"\nbase_url = "{sandbox}"\n'
        'token_file = "tokens/alice.work.token"\ndisplay_name = "Work contacts"\n'
    )

    # The code in the browser's address was used: a second exchange is refused.
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(callback_with_code).query)["code"][0]
    with pytest.raises(BadRequestError) as refused:
        exchange_code(sandbox, CLIENT_ID, SECRET, code)
    assert refused.value.status == 400 and code not in str(refused.value)

    # The same callback replayed to another run: not its state, refused, nothing changed
    # (and that run goes on waiting for its own browser until stopped).
    before = setup.config.read_bytes()
    second, second_url = start_add(setup.config, "home")
    replay = return_url(second_url) + "?" + urllib.parse.urlsplit(callback_with_code).query
    assert httpx.get(replay).status_code == 400
    second.send_signal(signal.SIGINT)
    status, _, err = finish(second)
    assert status == 130 and "without this link attempt's state was refused" in err
    assert setup.config.read_bytes() == before
    assert not (setup.folder / "tokens" / "alice.home.token").exists()

    # serve serves the new account: a card PUT over CardDAV reaches Aurinko's account.
    root = sandbox.removesuffix("/v1")
    aurinko = httpx.Client(base_url=sandbox, headers={"Authorization": f"Bearer {token}"})
    aurinko.post("/contacts", json={"name": {"displayName": "Born In Aurinko"}}).raise_for_status()
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:from-carddav\r\nFN:From CardDAV\r\nEND:VCARD\r\n"
    with serving(setup.config) as server:
        client = httpx.Client(base_url=server, auth=("alice", "alice-pw"), timeout=30)
        assert client.put("/alice/work/from-carddav.vcf", content=card.encode()).status_code == 201
        names = polled(lambda: _names(root, token), lambda found: "From CardDAV" in found)
        assert "From CardDAV" in names
        listing = client.request("PROPFIND", "/alice/work/", headers={"Depth": "1"})
        assert listing.status_code == 207 and listing.text.count(".vcf</") == 2
        assert "Work contacts" in client.request("PROPFIND", "/alice/work/").text
    assert "From CardDAV" not in _names(root, TOKEN)  # another account's book


def _names(root: str, token: str) -> list[str]:
    dump = httpx.get(f"{root}/_sandbox/contacts", headers={"Authorization": f"Bearer {token}"})
    dump.raise_for_status()
    return [c.get("name", {}).get("displayName") for c in dump.json()["contacts"]]


def test_denied_consent_changes_nothing(setup: Setup, page: Page) -> None:
    process, url = start_add(setup.config, "work", "--user", "alice")
    assert "Linking was cancelled" in consent(page, url, "deny")
    status, _, err = finish(process)
    assert status != 0
    assert one_line(err).startswith(
        "aurinko-bridge: account add: consent was denied (access_denied"
    )
    assert setup.unchanged()


def test_a_wrong_state_is_refused_and_the_real_callback_still_links(
    setup: Setup, page: Page
) -> None:
    """Issue 21: any local process or web page can reach the callback port; a callback
    without the attempt's state gets 400 and a log line and ends nothing, so the browser's
    real one, coming after it, still links the account."""
    process, url = start_add(setup.config, "work")
    callback = return_url(url)
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["state"][0]
    forged = [
        {"code": "stolen", "state": "not-the-one"},
        {"error": "access_denied", "state": state[:-1]},  # would cancel the attempt
        {"code": "stolen"},  # no state at all
        {"code": "stolen", "state": state + "x"},
    ]
    for params in forged:
        answer = httpx.get(callback, params=params)
        assert answer.status_code == 400 and "<script" not in answer.text
        assert answer.headers["content-type"].startswith("text/html")
        assert "Not this link attempt" in answer.text
    assert process.poll() is None  # still waiting
    assert setup.unchanged()
    assert "alice/work is linked" in consent(page, url, "approve")
    status, out, err = finish(process)
    assert status == 0, err
    assert "Added [[accounts]] alice/work" in out
    refused = [line for line in err.splitlines() if "state was refused" in line]
    assert len(refused) == len(forged), err
    assert "stolen" not in err and state not in err


def test_a_code_used_already_fails_with_one_line_and_changes_nothing(
    setup: Setup, sandbox: str, page: Page
) -> None:
    """Someone who saw the browser's address trades its code first: the command, handed the
    same callback, is refused by Aurinko and says so."""
    process, url = start_add(setup.config, "work")
    seen: list[str] = []

    def hold_back(route: Route) -> None:  # the consent's answer, without following it
        answer = route.fetch(max_redirects=0)
        seen.append(answer.headers["location"])
        route.fulfill(status=200, body="held back")

    page.route("**/v1/auth/consent", hold_back)
    page.goto(url)
    page.click("#approve")
    page.wait_for_load_state()
    assert len(seen) == 1, seen
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(seen[0]).query)["code"][0]
    assert exchange_code(sandbox, CLIENT_ID, SECRET, code).access_token
    answer = httpx.get(seen[0])  # the callback the browser would have made
    assert answer.status_code == 502 and "refused the code" in answer.text
    status, _, err = finish(process)
    line = one_line(err)
    assert status != 0 and "Aurinko refused the code" in line and "HTTP 400" in line
    assert code not in err
    assert setup.unchanged()


def test_a_callback_without_state_or_code(setup: Setup) -> None:
    process, url = start_add(setup.config, "work")
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["state"][0]
    assert httpx.get(return_url(url), params={"state": state}).status_code == 400
    status, _, err = finish(process)
    assert status != 0 and "neither a code nor an error" in one_line(err)
    assert setup.unchanged()


def test_wrong_client_secret_fails_after_approve_and_changes_nothing(
    tmp_path: Path, sandbox: str, page: Page
) -> None:
    setup = _setup(tmp_path, sandbox, secret="not-the-secret")
    process, url = start_add(setup.config, "work")
    assert "Linking failed" in consent(page, url, "approve")
    status, _, err = finish(process)
    line = one_line(err)
    assert status != 0
    assert "refused the application's credentials" in line and "HTTP 401" in line
    assert "not-the-secret" not in err
    assert setup.unchanged()
    with pytest.raises(UnauthorizedError):
        exchange_code(sandbox, CLIENT_ID, "not-the-secret", "whatever")


def test_no_answer_within_the_timeout(setup: Setup) -> None:
    process, _ = start_add(setup.config, "work", "--timeout", "1")
    status, _, err = finish(process)
    assert status != 0 and "no answer from the browser within 1 s" in one_line(err)
    assert setup.unchanged()


def test_ctrl_c_while_waiting_exits_130(setup: Setup) -> None:
    process, _ = start_add(setup.config, "work")
    process.send_signal(signal.SIGINT)
    status, _, err = finish(process)
    assert status == 130 and "interrupted" in one_line(err)
    assert setup.unchanged()


def test_a_pinned_callback_port(setup: Setup, sandbox: str) -> None:
    port = free_port()
    callback = register(sandbox, port)
    process, url = start_add(setup.config, "work", "--callback-port", str(port))
    assert return_url(url) == callback
    process.send_signal(signal.SIGINT)
    assert finish(process)[0] == 130


def test_an_unregistered_return_url_is_refused_with_what_to_register(
    setup: Setup, sandbox: str
) -> None:
    """Issue 22, point 7: Aurinko sends the browser only to registered return URLs. A port
    whose URL nobody registered: ``account add`` says what to register, one line, status 1,
    and prints no address to open (its page would only say no)."""
    port = free_port()
    args = ["account", "add", "work", "--service", "Google", "--config", str(setup.config)]
    result = run(*args, "--no-browser", "--callback-port", str(port))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    line = one_line(result.stderr)
    callback = f"http://127.0.0.1:{port}/callback"
    assert line.startswith("aurinko-bridge: account add: Aurinko refused the consent address")
    assert f"returnUrl {callback} is not registered for this application" in line  # Aurinko's
    assert f"{callback} must be registered as a return URL of application {CLIENT_ID}" in line
    assert "Open this address" not in result.stdout
    assert setup.unchanged()
    # A free port each time (callback_port 0) can never be registered: the line says so.
    result = run(*args, "--no-browser", "--callback-port", "0")
    assert result.returncode == 1
    assert "callback_port 0 takes a free port each time" in one_line(result.stderr)
    # Registered, the same command goes on to the consent.
    register(sandbox, port)
    process, url = start_add(setup.config, "work", "--callback-port", str(port))
    assert return_url(url) == callback
    process.send_signal(signal.SIGINT)
    assert finish(process)[0] == 130


def test_aurinko_unreachable_before_the_consent(tmp_path: Path) -> None:
    setup = _setup(tmp_path, "http://127.0.0.1:9/v1", registered=False)
    args = ["account", "add", "work", "--service", "Google", "--config", str(setup.config)]
    result = run(*args, "--no-browser")
    assert result.returncode == 1
    assert "Aurinko cannot be reached at http://127.0.0.1:9/v1" in one_line(result.stderr)
    assert setup.unchanged()


# -- refused before anything starts -------------------------------------------------------


def test_account_commands_need_a_configuration_file() -> None:
    for action in (["add", "x", "--service", "Google"], ["list"], ["remove", "x"]):
        result = run("account", *action)
        assert result.returncode != 0
        assert "needs --config FILE" in one_line(result.stderr)


@pytest.mark.parametrize(
    ("change", "extra", "message"),
    [
        (lambda s: s.config.write_text("[server]\n"), [], "set [aurinko] client_id"),
        (lambda s: (s.folder / "app.secret").unlink(), [], "client_secret_file"),
        (lambda s: (s.folder / "app.secret").chmod(0o644), [], "chmod 600"),
        (lambda s: None, ["--service", "Gmail"], "unknown service"),
        (lambda s: None, ["--service", "Slack"], "Slack has no contacts"),
        (lambda s: None, ["--name-typo"], "unrecognized arguments"),
        (lambda s: None, ["--user", "bad/user"], "letters, digits"),
        (lambda s: None, ["--callback-port", "70000"], "0-65535"),
        (
            lambda s: (s.folder / "tokens").mkdir() or (s.folder / "tokens/alice.w.token").touch(),
            [],
            "already exists",
        ),
    ],
    ids=[
        "no-app",
        "no-secret",
        "open-secret",
        "service",
        "no-contacts",
        "typo",
        "user",
        "port",
        "token-there",
    ],
)
def test_add_refuses_early_with_one_line(setup: Setup, change, extra, message: str) -> None:
    change(setup)
    before = setup.config.read_bytes()
    result = run(
        "account", "add", "w", "--service", "Google", "--config", str(setup.config),
        "--no-browser", "--user", "alice", *extra,
    )  # fmt: skip
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert "Open this address" not in result.stdout
    assert setup.config.read_bytes() == before


def test_add_refuses_an_account_that_is_there(setup: Setup) -> None:
    _add_by_hand(setup, "alice", "work", "work.token", TOKEN)
    before = setup.config.read_bytes()
    result = run("account", "add", "WORK", "--service", "Google", "--config", str(setup.config))
    assert result.returncode != 0
    assert "alice/work is already in" in one_line(result.stderr)
    assert "Open this address" not in result.stdout
    assert setup.config.read_bytes() == before


def test_the_user_must_be_named_when_there_are_several(tmp_path: Path, sandbox: str) -> None:
    setup = _setup(tmp_path, sandbox, users=("alice", "bob"))
    result = run("account", "add", "w", "--service", "Google", "--config", str(setup.config))
    assert result.returncode != 0
    assert "--user USER (one of: alice, bob)" in one_line(result.stderr)


# -- --token-file -------------------------------------------------------------------------


def _token(path: Path, token: str, mode: int = 0o600) -> Path:
    path.write_text(token + "\n")
    path.chmod(mode)
    return path


def test_token_file_checked_and_linked(setup: Setup, sandbox: str, tmp_path_factory) -> None:
    inside = _token(setup.folder / "mine.token", TOKEN)
    # No --user: the htpasswd file's only user.
    result = run(
        "account", "add", "work", "--token-file", str(inside), "--config", str(setup.config)
    )
    assert result.returncode == 0, result.stderr
    assert "token_file = mine.token" in result.stdout
    outside = _token(tmp_path_factory.mktemp("elsewhere") / "t.token", TOKEN)
    result = run(
        "account",
        "add",
        "home",
        "--user",
        "alice",
        "--token-file",
        str(outside),
        "--config",
        str(setup.config),
    )
    assert result.returncode == 0, result.stderr
    text = setup.config.read_text(encoding="utf-8")
    assert text.startswith(setup.original.decode())
    assert text.endswith(
        f'\n[[accounts]]\nname = "work"\nuser = "alice"\nbase_url = "{sandbox}"\n'
        'token_file = "mine.token"\n'
        f'\n[[accounts]]\nname = "home"\nuser = "alice"\nbase_url = "{sandbox}"\n'
        f'token_file = "{outside}"\n'
    )
    assert not (setup.folder / "tokens").exists()


@pytest.mark.parametrize(
    ("token", "mode", "message"),
    [
        ("wrong-token-0000000000", 0o600, "the token was refused by Aurinko"),
        (TOKEN, 0o644, "chmod 600"),
        ("", 0o600, "is empty"),
    ],
    ids=["refused", "readable", "empty"],
)
def test_token_file_refused(setup: Setup, token: str, mode: int, message: str) -> None:
    source = _token(setup.folder / "given.token", token, mode)
    result = run("account", "add", "w", "--token-file", str(source), "--config", str(setup.config))
    assert result.returncode != 0 and message in one_line(result.stderr)
    assert setup.unchanged()


def test_token_file_with_aurinko_unreachable(tmp_path: Path) -> None:
    setup = _setup(tmp_path, "http://127.0.0.1:9/v1", registered=False)
    source = _token(tmp_path / "given.token", TOKEN)
    result = run("account", "add", "w", "--token-file", str(source), "--config", str(setup.config))
    assert result.returncode != 0 and "unreachable" in one_line(result.stderr)
    assert setup.unchanged()


# -- list and remove ----------------------------------------------------------------------


def _add_by_hand(setup: Setup, user: str, name: str, token_file: str, token: str) -> None:
    path = setup.folder / token_file
    path.parent.mkdir(mode=0o700, exist_ok=True)
    _token(path, token)
    url = re.search(r'base_url = "(.*)"', setup.original.decode())
    assert url is not None
    with setup.config.open("a", encoding="utf-8") as out:
        out.write(
            f'\n[[accounts]]\nname = "{name}"\nuser = "{user}"\nbase_url = "{url.group(1)}"\n'
            f'token_file = "{token_file}"\n'
        )


def test_list_and_check(setup: Setup, sandbox: str) -> None:
    _add_by_hand(setup, "alice", "work", "tokens/alice.work.token", TOKEN)
    _add_by_hand(setup, "alice", "old", "old.token", "revoked-token-000000000")
    _add_by_hand(setup, "alice", "gone", "gone.token", TOKEN)
    (setup.folder / "gone.token").unlink()
    listed = run("account", "list", "--config", str(setup.config))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        f"alice/work  {sandbox}  token: tokens/alice.work.token (readable)",
        f"alice/old  {sandbox}  token: old.token (readable)",
        f"alice/gone  {sandbox}  token: gone.token (not readable: token file"
        f" {setup.folder / 'gone.token'}: No such file or directory)",
    ]
    checked = run("account", "list", "--check", "--config", str(setup.config))
    assert checked.returncode != 0
    lines = checked.stdout.splitlines()
    assert "check: ok (" in lines[0]
    assert lines[1].endswith("check: refused")
    assert lines[2].endswith("check: not checked")
    assert "2 of 3 accounts failed the check" in one_line(checked.stderr)
    assert TOKEN not in checked.stdout + checked.stderr


def test_check_says_unreachable(tmp_path: Path) -> None:
    setup = _setup(tmp_path, "http://127.0.0.1:9/v1", registered=False)
    _add_by_hand(setup, "alice", "work", "work.token", TOKEN)
    checked = run("account", "list", "--check", "--config", str(setup.config))
    assert checked.stdout.strip().endswith("check: unreachable")
    assert checked.returncode != 0


def _books(setup: Setup) -> list[tuple[str, str]]:
    with sqlite3.connect(setup.folder / "var" / "store.sqlite3") as db:
        return [(o, n) for o, n in db.execute("SELECT owner, name FROM books ORDER BY name")]


@pytest.mark.parametrize("purge", [False, True], ids=["keep-local-copy", "purge"])
def test_remove(setup: Setup, purge: bool) -> None:
    _add_by_hand(setup, "alice", "work", "tokens/alice.work.token", TOKEN)
    _add_by_hand(setup, "alice", "mine", "mine.token", TOKEN)
    with_accounts = setup.config.read_text(encoding="utf-8")
    synced = run("sync", "--config", str(setup.config))
    assert synced.returncode == 0, synced.stderr
    assert _books(setup) == [("alice", "mine"), ("alice", "work")]
    conflicts = setup.folder / "var" / "conflicts" / "alice" / "work"
    conflicts.mkdir(parents=True)
    (conflicts / "x.vcf").write_text("BEGIN:VCARD\r\nEND:VCARD\r\n")

    result = run(
        "account",
        "remove",
        "alice/work",
        "--config",
        str(setup.config),
        *(["--purge"] if purge else []),
    )
    assert result.returncode == 0, result.stderr
    assert "Removed [[accounts]] alice/work" in result.stdout
    assert "restart `aurinko-bridge serve`" in result.stdout
    text = setup.config.read_text(encoding="utf-8")
    block = with_accounts[with_accounts.index('\n[[accounts]]\nname = "work"') :]
    block = block[: block.index('\n[[accounts]]\nname = "mine"')]
    assert text == with_accounts.replace(block, "", 1)
    assert "# My bridge." in text and "# The Aurinko application" in text
    assert not (setup.folder / "tokens" / "alice.work.token").exists()  # written by add
    if purge:
        assert _books(setup) == [("alice", "mine")]
        assert not conflicts.exists()
    else:
        assert _books(setup) == [("alice", "mine"), ("alice", "work")]
        assert conflicts.exists() and "--purge deletes it" in result.stdout
        # Another account under the kept copy's name would sync the two into each other.
        cfg = ("--config", str(setup.config))
        (setup.folder / "other.token").write_text(TOKEN)
        (setup.folder / "other.token").chmod(0o600)
        again = run(
            "account", "add", "work", "--user", "alice", "--token-file", "other.token", *cfg
        )
        assert again.returncode != 0 and "account remove alice/work --purge" in again.stderr
        assert setup.config.read_text(encoding="utf-8") == text
        purged = run("account", "remove", "alice/work", "--purge", *cfg)
        assert purged.returncode == 0, purged.stderr
        assert _books(setup) == [("alice", "mine")] and not conflicts.exists()

    # A token file the user made is theirs: kept.
    result = run("account", "remove", "mine", "--user", "alice", "--config", str(setup.config))
    assert result.returncode == 0, result.stderr
    assert (setup.folder / "mine.token").exists() and "Kept its token file" in result.stdout
    assert setup.config.read_bytes() == setup.original


def test_remove_an_unknown_account(setup: Setup) -> None:
    result = run("account", "remove", "nope", "--config", str(setup.config))
    assert result.returncode != 0 and "no account 'nope'" in one_line(result.stderr)
    assert setup.unchanged()


def test_a_refused_configuration_edit_leaves_no_token_behind(setup: Setup, page: Page) -> None:
    process, url = start_add(setup.config, "work")
    # Meanwhile someone adds alice/work by hand: the edit after the consent is refused.
    _add_by_hand(setup, "alice", "work", "other.token", TOKEN)
    edited = setup.config.read_bytes()
    assert "Linking failed" in consent(page, url, "approve")
    status, _, err = finish(process)
    assert status != 0 and "name the same address book" in one_line(err)
    assert setup.config.read_bytes() == edited
    assert list((setup.folder / "tokens").iterdir()) == []


def test_the_embedded_demo_sandbox_links_accounts_too(tmp_path: Path, page: Page) -> None:
    """``serve`` with no configuration announces its sandbox's own application: a user can
    try ``account add`` against it, consent page and all, before having an Aurinko app."""
    demo = subprocess.Popen(
        [*BRIDGE, "serve", "--demo-dir", str(tmp_path / "demo"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert demo.stdout is not None
    try:
        lines = [demo.stdout.readline() for _ in range(5)]
        found = re.search(
            r"Aurinko sandbox at (\S+): application (\S+), secret in (\S+), return URL (\S+) ",
            "".join(lines),
        )
        assert found is not None, lines
        sandbox_url, client_id, secret_file, registered = found.groups()
        # account add's default return URL (callback_port 8765), registered by the demo.
        assert registered == "http://127.0.0.1:8765/callback"
        config = tmp_path / "bridge.toml"
        config.write_text(
            f'[server]\nhtpasswd = "users.htpasswd"\n\n[aurinko]\nclient_id = "{client_id}"\n'
            f'client_secret_file = "{secret_file}"\nbase_url = "{sandbox_url}"\n'
        )
        config.chmod(0o600)
        set_password(tmp_path / "users.htpasswd", "alice", "alice-pw", rounds=4)
        process, url = start_add(config, "tryout")
        assert "alice/tryout is linked" in consent(page, url, "approve")
        status, out, err = finish(process)
        assert status == 0 and "Linked alice/tryout" in out, err
        token = (tmp_path / "tokens" / "alice.tryout.token").read_text().strip()
        account = httpx.get(f"{sandbox_url}/account", headers={"Authorization": f"Bearer {token}"})
        assert account.status_code == 200 and account.json()["serviceType"] == "Google"
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.communicate(timeout=60)


def test_remove_revoke_deletes_the_account_at_aurinko(
    setup: Setup, sandbox: str, page: Page
) -> None:
    process, url = start_add(setup.config, "work")
    assert "alice/work is linked" in consent(page, url, "approve")
    assert finish(process)[0] == 0
    token = (setup.folder / "tokens" / "alice.work.token").read_text().strip()
    aurinko = httpx.Client(base_url=sandbox, headers={"Authorization": f"Bearer {token}"})
    assert aurinko.get("/account").status_code == 200
    result = run("account", "remove", "work", "--revoke", "--config", str(setup.config))
    assert result.returncode == 0, result.stderr
    assert "Deleted the account at Aurinko (DELETE /v1/account)" in result.stdout
    assert aurinko.get("/account").status_code == 401  # the account and its grant are gone
    assert setup.config.read_bytes() == setup.original
    assert not (setup.folder / "tokens" / "alice.work.token").exists()


def test_remove_revoke_with_aurinko_down_keeps_the_token_file(tmp_path: Path) -> None:
    setup = _setup(tmp_path, "http://127.0.0.1:9/v1", registered=False)  # nothing listens there
    _add_by_hand(setup, "alice", "work", "tokens/alice.work.token", TOKEN)
    result = run("account", "remove", "work", "--revoke", "--config", str(setup.config))
    assert result.returncode == 0, result.stderr
    assert "Could not delete the account at Aurinko" in result.stdout
    assert "Kept its token file" in result.stdout
    assert (setup.folder / "tokens" / "alice.work.token").exists()
