"""One write Aurinko keeps failing or refuses never holds back the others: it waits its own
backoff and is parked past the attempt cap (or at once when refused for good), shown by
``aurinko-bridge status``; 401 and 403 stop the account's writes with a message saying
what to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bridge.aurinko import AurinkoClient, Breaker, RetryPolicy
from bridge.config import StoreConfig
from bridge.sandbox import SandboxApp
from bridge.store import Book
from bridge.sync import EngineOptions, SyncEngine
from bridge.sync.reports import words
from tests.conftest import TOKEN, write_bridge_config
from tests.postgres import store_toml
from tests.sync.conftest import FAST_RETRY, no_sleep, vcard

CAP = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0)


class Refusing(httpx.BaseTransport):
    """The sandbox in-process; writes whose body names ``poison`` get ``status``."""

    def __init__(self, app: SandboxApp, status: int, poison: str = "Poison") -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.status, self.poison = status, poison

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method in ("POST", "PATCH") and self.poison.encode() in request.read():
            return httpx.Response(self.status, json={"code": "oops", "message": "no"})
        return self.inner.handle_request(request)


def engine_over(
    tmp_path: Path, transport: httpx.BaseTransport, store: StoreConfig | None
) -> tuple[SyncEngine, Book]:
    engine = SyncEngine(tmp_path / "bridge", options=EngineOptions(retry=CAP), store=store)
    client = AurinkoClient(
        TOKEN, "http://sandbox/v1", retry=FAST_RETRY, sleep=no_sleep, transport=transport,
        breaker=Breaker(),
    )  # fmt: skip
    return engine, engine.attach("alice", "work", client)


def fill(engine: SyncEngine, book: Book, poison_at: int = 20, *poison_lines: str) -> None:
    for i in range(51):
        name = "Poison" if i == poison_at else f"Fine {i:02}"
        lines = poison_lines if i == poison_at else ()
        engine.put(book, f"c{i:02}.vcf", vcard(f"uid-{i}", name, *lines), push=False)


def upstream_names(app: SandboxApp) -> list[str]:
    return sorted(c["name"]["displayName"] for c in app.dump(TOKEN))


def test_a_write_failing_every_time_waits_alone_then_is_parked(
    sandbox_app: SandboxApp, tmp_path: Path, store_config: StoreConfig | None
) -> None:
    engine, book = engine_over(tmp_path, Refusing(sandbox_app, 500), store_config)
    fill(engine, book)
    report = engine.push(book)
    assert upstream_names(sandbox_app) == [f"Fine {i:02}" for i in range(51) if i != 20]
    assert report.error is None and report.pending == 1  # the poison waits, nothing else
    for _ in range(CAP.max_attempts):  # the last: a pull finds no trace, then it is parked
        report = engine.push(book)
    assert engine.outbox.count(book.id) == 0
    (parked,) = engine.outbox.failed(book.id)
    assert parked.href == "c20.vcf" and "gave up after 3 attempts" in (parked.last_error or "")
    assert any("c20.vcf" in line for line in map(words, report.skipped))
    row = engine.store.get(book.id, "c20.vcf")
    assert row is not None and "FN:Poison" in row.vcard  # the card keeps the user's version
    engine.close()


def test_a_write_refused_for_good_is_parked_at_once(
    sandbox_app: SandboxApp, tmp_path: Path, store_config: StoreConfig | None
) -> None:
    """A 400 that names no field of the contact (a field it names is held back instead, and
    the rest sent: tests/sync/test_held_fields.py)."""
    engine, book = engine_over(tmp_path, Refusing(sandbox_app, 400), store_config)
    fill(engine, book)
    report = engine.push(book)
    assert len(upstream_names(sandbox_app)) == 50 and "Poison" not in upstream_names(sandbox_app)
    (parked,) = engine.outbox.failed(book.id)
    assert parked.href == "c20.vcf" and "400" in (parked.last_error or "")
    assert report.error is None and engine.outbox.count(book.id) == 0
    engine.close()


@pytest.mark.parametrize(
    ("status", "message"),
    [(403, "lacks the Contacts.ReadWrite permission"), (401, "renew the token")],
)
def test_a_refused_token_stops_writes_with_what_to_do(
    sandbox_app: SandboxApp,
    tmp_path: Path,
    status: int,
    message: str,
    store_config: StoreConfig | None,
) -> None:
    transport = Refusing(sandbox_app, status, poison="")  # every write
    engine, book = engine_over(tmp_path, transport, store_config)
    fill(engine, book)
    report = engine.push(book)
    assert report.error is not None and message in report.error.text
    assert engine.outbox.failed(book.id) == [] and engine.outbox.count(book.id) == 51
    transport.status = 200
    transport.poison = "\x00never"  # access granted again: everything goes through
    assert engine.push(book).error is None and len(upstream_names(sandbox_app)) == 51
    engine.close()


def test_status_shows_a_parked_write_and_retries_or_drops_it(
    sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path, store_config: StoreConfig | None
) -> None:
    config = str(write_bridge_config(tmp_path, live_sandbox, extra=store_toml(store_config)))

    def bridge(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bridge", *args, "--config", config]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    def import_card(name: str, refused: bool) -> subprocess.CompletedProcess[str]:
        path = tmp_path / f"{name}.vcf"
        path.write_text(vcard(f"uid-{name}", name.title()))
        sandbox_app.set_faults(error_rate=1.0 if refused else 0.0, error_statuses=(400,))
        try:
            return bridge("import", str(path))
        finally:
            sandbox_app.set_faults(error_rate=0.0)

    assert import_card("fine", refused=False).returncode == 0
    imported = import_card("bad", refused=True)
    assert imported.returncode == 0, imported.stderr
    assert "refused by Aurinko: create uid-bad.vcf" in imported.stdout, imported.stdout
    assert "--retry" in imported.stdout
    status = bridge("status")
    assert status.returncode == 0, status.stderr
    assert "1 parked" in status.stdout and "parked #" in status.stdout
    op_id = status.stdout.split("parked #")[1].split()[0]
    assert "400" in status.stdout.split("parked #")[1].splitlines()[0]
    assert bridge("status", "--retry", op_id).returncode == 0
    assert "0 parked" in bridge("status").stdout and "1 write waiting" in bridge("status").stdout
    assert bridge("sync").returncode == 0  # accepted now
    assert upstream_names(sandbox_app) == ["Bad", "Fine"]

    assert "refused by Aurinko" in import_card("ugly", refused=True).stdout
    op_id = bridge("status").stdout.split("parked #")[1].split()[0]
    assert bridge("status", "--drop", op_id).returncode == 0
    assert "0 writes waiting, 0 parked" in bridge("status").stdout
    dropped = bridge("status", "--drop", op_id)  # gone: a clear error, no traceback
    assert dropped.returncode != 0 and "no parked write" in dropped.stderr
    assert "Traceback" not in dropped.stderr
    assert upstream_names(sandbox_app) == ["Bad", "Fine"]


def test_a_dead_grant_stops_writes_saying_to_run_relink_and_a_new_token_sends_them(
    sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path, store_config: StoreConfig | None
) -> None:
    engine = SyncEngine(tmp_path / "bridge", store=store_config)
    engine.attach("alice", "work", AurinkoClient(TOKEN, live_sandbox, retry=FAST_RETRY))
    book = engine.book("alice", "work")
    assert book is not None
    engine.sync(book)
    sandbox_app.set_token_status(TOKEN, "dead")
    engine.put(book, "ann.vcf", vcard("uid-ann", "Ann"), push=False)
    report = engine.push(book)
    assert report.error is not None and "token.refresh.failed" in report.error.text
    assert "run aurinko-bridge account relink alice/work" in report.error.text
    assert engine.outbox.count(book.id) == 1 and engine.outbox.failed(book.id) == []
    sandbox_app.set_token_status(TOKEN, "active")
    assert engine.push(book).error is None and engine.outbox.count(book.id) == 0
    engine.close()
