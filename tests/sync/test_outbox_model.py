"""Model-based: random interleavings of create / update / delete with pushes whose answers
are lost, writes landing while a request is in flight, and crashes (the process dying
mid-push, then a new engine on the same data directory). After the dust settles, Aurinko
and the store hold exactly what the user last wrote: nothing lost, nothing created twice,
nothing deleted come back."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from bridge.aurinko import AurinkoClient
from bridge.sandbox import SandboxApp, SandboxConfig
from bridge.sync import EngineOptions, SyncEngine
from tests.conftest import TOKEN, NewStore
from tests.sync.conftest import FAST_RETRY, no_sleep, vcard

HREFS = ["a.vcf", "b.vcf", "c.vcf"]
FAULTS = ["none", "lost", "refused", "busy", "crash"]


class Crash(BaseException):
    """The process dies: nothing after this point of the push runs (not an Exception, so
    no handler in the engine sees it; transactions roll back as a killed process's do)."""


class FaultyTransport(httpx.BaseTransport):
    """The sandbox, in-process, with one planned fault for the next write request and an
    optional local write that lands while that request is in flight."""

    def __init__(self, app: SandboxApp) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.fault = "none"
        self.during: Callable[[], None] | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return self.inner.handle_request(request)
        fault, self.fault = self.fault, "none"
        if fault == "refused":
            raise httpx.ConnectError("connection refused", request=request)
        if fault == "busy":
            return httpx.Response(503, json={"code": "busy", "message": "try later"})
        during, self.during = self.during, None
        if during is not None:
            during()
        response = self.inner.handle_request(request)
        response.read()
        if fault == "lost":
            raise httpx.ReadError("connection reset after the server acted", request=request)
        if fault == "crash":
            raise Crash
        return response


class OutboxModel(RuleBasedStateMachine):
    def __init__(self, new_store: NewStore) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="outbox-model-"))
        self.store = new_store()  # each example its own, on the test's backend
        self.app = SandboxApp(SandboxConfig(db_path=str(self.tmp / "sb.sqlite3"), tokens=[TOKEN]))
        self.transport = FaultyTransport(self.app)
        self.engine = self._open()
        self.remote = AurinkoClient(
            TOKEN, "http://sandbox/v1", transport=httpx.WSGITransport(app=self.app)
        )  # another device editing the account
        self.model: dict[str, str] = {}  # href -> the display name the user last wrote
        self.nick: dict[str, str] = {}  # href -> the nickname last set by the other device
        self.generation = dict.fromkeys(HREFS, 0)  # a re-created href gets a new UID
        self.version = 0

    def _open(self) -> SyncEngine:
        engine = SyncEngine(
            self.tmp / "bridge", options=EngineOptions(request_wait=0), store=self.store
        )
        client = AurinkoClient(
            TOKEN,
            "http://sandbox/v1",
            retry=FAST_RETRY,
            sleep=no_sleep,
            transport=self.transport,
        )
        engine.attach("alice", "work", client)
        return engine

    @property
    def book(self):  # type: ignore[no-untyped-def]
        book = self.engine.book("alice", "work")
        assert book is not None
        return book

    # -- what the user does -------------------------------------------------------------

    def _write(self, href: str, push: bool = False) -> None:
        """As a client does: the card as served, with a new FN."""
        self.version += 1
        name = f"{href[0]}-v{self.version}"
        row = self.engine.store.get(self.book.id, href)
        if row is None:
            text = vcard(f"{href}-{self.generation[href]}", name)
        else:
            text = re.sub(r"(?m)^FN:.*$", lambda _: f"FN:{name}\r", row.vcard)
        self.model[href] = name
        self.engine.put(self.book, href, text, push=False)
        if push:  # what a CardDAV PUT asks for, done here on this thread for determinism
            self.engine.push(self.book)

    def _delete(self, href: str) -> None:
        self.engine.delete(self.book, href, push=False)
        del self.model[href]
        self.nick.pop(href, None)
        self.generation[href] += 1

    @rule(href=st.sampled_from(HREFS), push=st.booleans())
    def write(self, href: str, push: bool) -> None:
        """A CardDAV PUT pushes its own contact at once; an import leaves it queued."""
        self._write(href, push)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        self._delete(data.draw(st.sampled_from(sorted(self.model))))

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def remote_edit(self, data: st.DataObject) -> None:
        """Another device sets the nickname of a contact that is upstream already."""
        href = data.draw(st.sampled_from(sorted(self.model)))
        row = self.engine.store.get(self.book.id, href)
        if (
            row is None
            or row.remote_id is None
            or self.engine.outbox.pending_for(self.book.id, href)
        ):
            return  # its upstream identity is still settling
        current = self.remote.get(row.remote_id)
        self.version += 1
        self.remote.update(row.remote_id, {"nickName": f"r{self.version}"}, etag=current["etag"])
        self.nick[href] = f"r{self.version}"

    # -- what the network and the machine do -------------------------------------------

    @rule(
        fault=st.sampled_from(FAULTS),
        meanwhile=st.sampled_from([None, *HREFS]),
        deletes=st.booleans(),
    )
    def push(self, fault: str, meanwhile: str | None, deletes: bool) -> None:
        """One push; its first write request meets ``fault``, and while it is in flight
        the user writes (or deletes) ``meanwhile``."""
        self.transport.fault = fault
        if meanwhile is not None:
            if deletes and meanwhile in self.model:
                self.transport.during = lambda: self._delete(meanwhile)
            else:
                self.transport.during = lambda: self._write(meanwhile)
        try:
            self.engine.push(self.book)
        except Crash:
            self.engine.close()
            self.engine = self._open()
        self.transport.fault, self.transport.during = "none", None

    @rule()
    def pull(self) -> None:
        self.engine.pull(self.book)

    # -- checks -------------------------------------------------------------------------

    @invariant()
    def served_cards_are_the_users_last_writes(self) -> None:
        rows = self.engine.store.list_items(self.book.id)
        served = {r.href: r.vcard for r in rows}
        assert sorted(served) == sorted(self.model)  # nothing lost, nothing resurrected
        for href, name in self.model.items():
            assert f"FN:{name}\r\n" in served[href], (href, name)

    def teardown(self) -> None:
        try:
            self._settle_and_check()
        finally:
            self.engine.close()
            self.remote.close()
            self.app.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _settle_and_check(self) -> None:
        for _ in range(5):
            report = self.engine.sync(self.book)
            if report.error is None and self.engine.outbox.count(self.book.id) == 0:
                break
        assert self.engine.outbox.count(self.book.id) == 0, report.error
        contacts = self.app.dump(TOKEN)
        upstream = sorted(c["name"]["displayName"] for c in contacts)
        assert upstream == sorted(self.model.values())  # once each, latest versions only
        self.served_cards_are_the_users_last_writes()
        nicks = {c["name"]["displayName"]: c.get("nickName") for c in contacts}
        for href, name in self.model.items():  # the other device's edits survive too
            assert nicks[name] == self.nick.get(href), href
        for href in self.model:  # every card is linked to its one upstream contact
            row = self.engine.store.get(self.book.id, href)
            assert row is not None and row.remote_id is not None, href


SETTINGS = settings(
    max_examples=150,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# The interleavings are the engine's, the same on either backend: SQLite, in-process, explores
# them widely. On PostgreSQL each step is several network round trips (about 0.7 s an example,
# ten times SQLite's), and what differs there (the outbox's, change log's and locks' SQL) is
# met by every rule within a few examples, so fewer examples check it.
EXAMPLES = {"sqlite": 150, "postgresql": 30}


@pytest.mark.slow
def test_outbox_keeps_order_and_identity_per_contact(
    new_store: NewStore, store_backend: str
) -> None:
    run_state_machine_as_test(
        lambda: OutboxModel(new_store),
        settings=settings(SETTINGS, max_examples=EXAMPLES[store_backend]),
    )
