"""Every client-written card of fixtures/vcards through the CardDAV server (issue 12, 7).

Each input is PUT into the account's book and into a local (MKCOL) book, then read back by
GET, multiget and sync-collection. A 3.0 or 4.0 card comes back in its own version as it
was sent, apart from folding and line ends; 2.1 and version-less cards come back as 3.0.
Every served card, in either version, is one vobject reads and has every property and TYPE
value of the input (issue 24, tests/mapping/kept.py). The PUT answer carries the
ETag exactly when the served card is the one sent. Inputs are globbed (any folder, any
name but the golden outputs ``*.served-<version>.vcf``), so new fixtures are covered as
they are added; a card the mapping refuses must be refused with 400.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import vobject

from bridge.mapping import MappingError, from_vcard
from bridge.sandbox import SandboxApp, SandboxConfig, serve_in_thread
from tests.conftest import OTHER_TOKEN, TOKEN
from tests.mapping.kept import lost
from tests.plugin.conftest import Server, mkcol_book, running_server, unfolded
from tests.plugin.test_card_versions import served_everywhere
from tests.sync.conftest import comparable

ROOT = Path(__file__).resolve().parents[2] / "fixtures" / "vcards"
INPUTS = sorted(p for p in ROOT.rglob("*.vcf") if ".served-" not in p.name)
BOOKS = ("work", "local")  # the account's (served as 3.0 by default) and a local one

# Checks an input cannot pass yet for a mapping bug (bridge/mapping is fixing them), by
# (input, check): that check is excused (xfail), and it runs after every other check.
KNOWN_FAILURES: dict[tuple[str, str], str] = {
    ("evolution/bare-params-3.0.vcf", "served as sent"): (
        "2.1-style bare type parameters in a 3.0 card (TEL;WORK;VOICE, EMAIL;INTERNET;PREF,"
        " ADR;HOME) are served as TYPE= lists (TEL;TYPE=WORK,VOICE), as the golden"
        " bare-params-3.0.served-3.0.vcf specifies; the PUT answer rightly has no ETag"
    ),
    ("rfc/grouped-begin-3.0.vcf", "served as sent"): (
        "the group of BEGIN, VERSION, UID and END (home.BEGIN:VCARD, RFC 2426) is dropped,"
        " as the golden grouped-begin-3.0.served-3.0.vcf specifies; no ETag in the answer"
    ),
}

_GROUP = r"^(?:[A-Za-z0-9-]+\.)?"
_VERSION = re.compile(_GROUP + r"VERSION:(.*?)\r?$", re.MULTILINE | re.IGNORECASE)
_UID = re.compile(_GROUP + r"UID[;:]", re.MULTILINE | re.IGNORECASE)
_EMPTY_N = re.compile(r"^N:;*$")


def _name(source: Path) -> str:
    return source.relative_to(ROOT).as_posix()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for every input (each test removes its card again): dozens of inputs
    in two books would otherwise each start a sandbox and a server."""
    tmp_path = tmp_path_factory.mktemp("fixture-cards")
    sandbox = SandboxApp(
        SandboxConfig(db_path=str(tmp_path / "sandbox.sqlite3"), tokens=[TOKEN, OTHER_TOKEN])
    )
    with serve_in_thread(sandbox) as live, running_server(sandbox, live.url, tmp_path) as server:
        mkcol_book(server.alice, "/alice/local/")
        yield server


def written_version(text: str) -> str | None:
    found = _VERSION.search(text)
    return found.group(1).strip() if found else None


def with_uid(body: bytes, uid: str) -> bytes:
    """The card as a CardDAV client sends it: with a UID (RFC 6352 5.1; Radicale refuses a
    card without one), added after VERSION when the input has none. Bytes stay as they
    are (an input may not be UTF-8): latin-1 maps each byte to one character and back."""
    text = body.decode("latin-1")
    if _UID.search(text):
        return body
    end = "\r\n" if "\r\n" in text else "\n"
    lines = text.split(end)
    at = next((i for i, line in enumerate(lines) if _VERSION.match(line)), 0) + 1
    return end.join([*lines[:at], f"UID:{uid}", *lines[at:]]).encode("latin-1")


def parses(card: str, version: str) -> None:
    """vobject reads the card strictly: one VCARD, no unreadable line ignored, and for 3.0
    its validation too (vobject 0.9.9 knows 3.0's rules only: it would count a 4.0 card's
    ALTID alternatives, RFC 6350 5.4, as repeated properties)."""
    component = vobject.readOne(card, validate=version == "3.0", ignoreUnreadable=False)
    assert component.name == "VCARD"


def known_difference(sent: list[str], served: list[str]) -> str | None:
    """The reason for a difference between the lines sent and served that the mapping is
    known to make in any card, whichever input shows it."""
    added = [line for line in served if line not in sent]
    removed = [line for line in sent if line not in served]
    if not removed and added and all(_EMPTY_N.match(line) for line in added):
        return (
            f"the mapping adds an empty N ({added[0]}) to a 3.0 card that has none:"
            " bridge/mapping is dropping it"
        )
    return None


def settle(source: Path, problems: dict[str, tuple[str, str | None]]) -> None:
    """``problems``: check -> (what went wrong, a known reason or None). Fail on one not
    known; xfail, naming every reason, when all are known."""
    reasons = {
        check: reason or KNOWN_FAILURES.get((_name(source), check))
        for check, (_, reason) in problems.items()
    }
    unknown = [f"{check}: {problems[check][0]}" for check, r in reasons.items() if r is None]
    if unknown:
        pytest.fail("\n".join(unknown))
    if problems:
        pytest.xfail("; ".join(r for r in reasons.values() if r))


@pytest.mark.parametrize("book", BOOKS)
@pytest.mark.parametrize("source", INPUTS, ids=_name)
def test_a_client_card_comes_back_as_written(
    shared_server: Server, source: Path, book: str
) -> None:
    server = shared_server
    body = with_uid(source.read_bytes(), f"fixture-{source.stem}")
    path = f"/alice/{book}/{source.parent.name}-{source.stem}.vcf"
    answer = server.alice.put(path, content=body, headers={"Content-Type": "text/vcard"})
    try:
        _check(server, source, body, path, answer.status_code, answer.headers.get("ETag"))
    finally:
        server.alice.delete(path)


def _check(
    server: Server, source: Path, body: bytes, path: str, status: int, put_etag: str | None
) -> None:
    try:
        from_vcard(body)
    except MappingError:
        assert status == 400  # the mapping's refusal, not a card stored half-read
        assert server.alice.get(path).status_code == 404
        return
    assert status == 201
    sent = body.decode("utf-8", "replace")  # what the server compares the stored card with
    served = served_everywhere(server, path)  # GET, multiget and sync-collection agree
    own = written_version(sent)
    version = own if own in ("3.0", "4.0") else "3.0"
    assert unfolded(served)[1] == f"VERSION:{version}"
    parses(served, version)
    as_sent = unfolded(served) == unfolded(sent)
    get_etag = server.alice.get(path).headers["ETag"]
    assert put_etag == (get_etag if as_sent else None)  # the ETag exactly when stored as sent

    problems: dict[str, tuple[str, str | None]] = {}
    other = "4.0" if version == "3.0" else "3.0"
    converted = served_everywhere(server, path, other)
    assert unfolded(converted)[1] == f"VERSION:{other}"
    try:
        parses(converted, other)
    except vobject.base.VObjectError as exc:
        problems[f"served as {other}"] = (str(exc), None)
    if path.startswith("/alice/work/"):
        reaches_aurinko(server, path, from_vcard(body).contact)
    written = from_vcard(body).shadow  # the card as sent, decoded as the server decodes it
    # issue 24: every property and TYPE value is kept, also once Aurinko's answer is merged
    after = [served_everywhere(server, path, v) for v in (version, other)]
    for version_served, cards in ((version, (served, after[0])), (other, (converted, after[1]))):
        for card in cards:
            missing = lost(written, card)
            if missing:
                problems[f"every property kept in {version_served}"] = (str(missing), None)
    if own in ("3.0", "4.0") and not as_sent:  # 2.1 and version-less cards are converted
        diff = "\n".join(_diff(sent, served))
        problems["served as sent"] = (diff, known_difference(unfolded(sent), unfolded(served)))
    settle(source, problems)


def reaches_aurinko(server: Server, path: str, contact: dict) -> None:
    """The card's mapped fields are what Aurinko (the sandbox) now holds, none lost."""
    engine, book = server.engine, server.book
    engine.push(book)  # the PUT waited for its push a short while at most: finish it here
    row = engine.store.get(book.id, path.rsplit("/", 1)[1])
    assert row is not None and row.remote_id is not None, engine.outbox.failed(book.id)
    (stored,) = [c for c in server.sandbox.dump(TOKEN) if c["id"] == row.remote_id]
    if isinstance(stored.get("photo"), dict):  # the server names the photo it stored
        stored["photo"] = {k: v for k, v in stored["photo"].items() if k != "id"}
    assert comparable(stored) == comparable(contact)


def _diff(sent: str, served: str) -> list[str]:
    return list(
        difflib.unified_diff(unfolded(sent), unfolded(served), "sent", "served", lineterm="")
    )
