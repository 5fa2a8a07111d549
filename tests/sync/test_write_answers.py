"""Aurinko answers a write with ``{id, etag}`` or ``{id}`` alone (its schema is "ContactOrId"):
the engine reads the contact back, and when even that fails it keeps what it sent. Never a
blank card, never a second create."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from bridge.aurinko import AurinkoClient
from bridge.config import StoreConfig
from bridge.sandbox import SandboxApp
from bridge.sync import EngineOptions, SyncEngine
from tests.conftest import TOKEN
from tests.sync.conftest import FAST_RETRY, no_sleep, vcard


class TerseAnswers(httpx.BaseTransport):
    """The sandbox in-process, its write answers cut down to ``keep``; GETs of a contact
    fail while ``reads_fail`` is set."""

    def __init__(self, app: SandboxApp, keep: tuple[str, ...]) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.keep = keep
        self.reads_fail = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        is_read = request.method == "GET" and "/sync/" not in request.url.path
        if self.reads_fail and is_read:
            return httpx.Response(503, json={"code": "busy", "message": "later"})
        response = self.inner.handle_request(request)
        if request.method not in ("POST", "PATCH") or request.url.path.endswith("/sync"):
            return response
        body = json.loads(response.read())
        terse = {k: v for k, v in body.items() if k in self.keep}
        return httpx.Response(response.status_code, json=terse)


@pytest.mark.parametrize("keep", [("id", "etag"), ("id",)], ids=["id-etag", "id-only"])
@pytest.mark.parametrize("reads_fail", [False, True], ids=["read-back", "no-read-back"])
def test_terse_write_answers_leave_cards_whole_and_single(
    sandbox_app: SandboxApp,
    tmp_path: Path,
    keep: tuple[str, ...],
    reads_fail: bool,
    store_config: StoreConfig | None,
) -> None:
    transport = TerseAnswers(sandbox_app, keep)
    options = EngineOptions(write_wait=30)
    engine = SyncEngine(tmp_path / "bridge", options=options, store=store_config)
    client = AurinkoClient(
        TOKEN, "http://sandbox/v1", retry=FAST_RETRY, sleep=no_sleep, transport=transport
    )
    book = engine.attach("alice", "work", client)
    try:
        transport.reads_fail = reads_fail
        engine.put(book, "ann.vcf", vcard("uid-ann", "Ann Example", "NICKNAME:Annie"))
        engine.push(book)
        row = engine.store.get(book.id, "ann.vcf")
        assert row is not None and row.remote_id is not None
        assert "FN:Ann Example\r\n" in row.vcard and "NICKNAME:Annie" in row.vcard
        engine.put(book, "ann.vcf", vcard("uid-ann", "Ann Example", "NICKNAME:Ann"))
        engine.push(book)
        transport.reads_fail = False
        report = engine.sync(book)
        assert report.error is None and engine.outbox.count(book.id) == 0
        upstream = sandbox_app.dump(TOKEN)
        assert [(c["name"]["displayName"], c.get("nickName")) for c in upstream] == [
            ("Ann Example", "Ann")
        ]
        row = engine.store.get(book.id, "ann.vcf")
        assert row is not None and "NICKNAME:Ann\r\n" in row.vcard
    finally:
        engine.close()
