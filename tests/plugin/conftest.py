"""Radicale with the bridge plugin on a real loopback socket, over a loopback sandbox."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bridge.aurinko import AurinkoClient, RetryPolicy
from bridge.config import AccountConfig, Config
from bridge.htpasswd import set_password
from bridge.runtime import open_engine
from bridge.sandbox import SandboxApp
from bridge.store import Book
from bridge.sync import SyncEngine
from tests.conftest import TOKEN
from tests.running_server import RunningServer

NS = {"D": "DAV:", "CR": "urn:ietf:params:xml:ns:carddav", "CS": "http://calendarserver.org/ns/"}
FAST = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.01)


@dataclass
class Server:
    url: str
    engine: SyncEngine
    book: Book
    sandbox: SandboxApp
    remote: AurinkoClient
    alice: httpx.Client
    bob: httpx.Client
    running: RunningServer

    @property
    def book_url(self) -> str:
        return f"{self.url}alice/work/"


def write_token(tmp_path: Path) -> Path:
    token_file = tmp_path / "work.token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    return token_file


@contextmanager
def running_server(
    sandbox_app: SandboxApp,
    live_sandbox: str,
    tmp_path: Path,
    vcard_version: str = "3.0",
    write_wait: float = 0.0,
    request_wait: float = 2.0,
) -> Iterator[Server]:
    """The bridge's CardDAV server over ``live_sandbox``: alice's account book ``work``
    (served by default in ``vcard_version``), users alice and bob; ``write_wait`` and
    ``request_wait`` as in ``[sync]`` (0: write-behind, the default; 2 s)."""
    htpasswd = tmp_path / "users.htpasswd"
    set_password(htpasswd, "alice", "alice-pw", rounds=4)
    set_password(htpasswd, "bob", "bob-pw", rounds=4)
    account = AccountConfig(
        name="work",
        user="alice",
        base_url=live_sandbox,
        token_file=write_token(tmp_path),
        display_name="Work contacts",
        vcard_version=vcard_version,
    )
    config = Config(
        data_dir=tmp_path / "bridge",
        port=0,
        htpasswd=htpasswd,
        freshness=0,
        interval=3600,
        write_wait=write_wait,
        request_wait=request_wait,
        accounts=[account],
    )
    engine, books = open_engine(config)
    book = books[("alice", "work")]
    engine.clients[book.id] = AurinkoClient(TOKEN, live_sandbox, retry=FAST, sleep=lambda s: None)
    remote = AurinkoClient(TOKEN, live_sandbox, retry=FAST)
    with RunningServer(config, engine, f"test:{tmp_path}") as running:
        alice = httpx.Client(base_url=running.url, auth=("alice", "alice-pw"), timeout=30)
        bob = httpx.Client(base_url=running.url, auth=("bob", "bob-pw"), timeout=30)
        yield Server(running.url, engine, book, sandbox_app, remote, alice, bob, running)
        alice.close()
        bob.close()
    remote.close()
    engine.close()


@pytest.fixture
def server(sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path) -> Iterator[Server]:
    with running_server(sandbox_app, live_sandbox, tmp_path) as running:
        yield running


def propfind(client: httpx.Client, url: str, depth: str, props: str) -> ET.Element:
    body = f'<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:CR="{NS["CR"]}" xmlns:CS="{NS["CS"]}"><D:prop>{props}</D:prop></D:propfind>'
    response = client.request("PROPFIND", url, headers={"Depth": depth}, content=body)
    assert response.status_code == 207, response.text
    return ET.fromstring(response.content)


def report(client: httpx.Client, url: str, body: str, depth: str = "1") -> httpx.Response:
    return client.request(
        "REPORT", url, headers={"Depth": depth, "Content-Type": "application/xml"}, content=body
    )


def responses(tree: ET.Element) -> dict[str, ET.Element]:
    """href -> <D:response> of a multistatus."""
    return {r.findtext("D:href", namespaces=NS) or "": r for r in tree.findall("D:response", NS)}


def card(uid: str, fn: str | None, *extra: str, version: str = "3.0") -> str:
    lines = ["BEGIN:VCARD", f"VERSION:{version}", f"UID:{uid}"]
    lines += [f"FN:{fn}"] if fn else []
    lines += [*extra, "END:VCARD"]
    return "\r\n".join(lines) + "\r\n"


def mkcol_book(client: httpx.Client, url: str, name: str = "Local") -> None:
    """A local address book at ``url`` (extended MKCOL, RFC 5689)."""
    body = (
        '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">'
        "<D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>"
        f"<D:displayname>{name}</D:displayname></D:prop></D:set></D:mkcol>"
    )
    response = client.request("MKCOL", url, content=body)
    assert response.status_code == 201, response.text


def unfolded(text: str) -> list[str]:
    """A card's content lines: what stays when folding, line ends and empty lines (which
    hold no property) are set aside."""
    text = text.replace("\r\n", "\n").replace("\n ", "").replace("\n\t", "")
    return [line for line in text.split("\n") if line]
