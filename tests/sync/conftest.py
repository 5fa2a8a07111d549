"""An engine over a real loopback sandbox, plus a second client playing another device.

``env`` (and so every test using it) runs on both store backends, through ``store_config``
(tests/conftest.py): SQLite in the data directory, then a fresh PostgreSQL store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridge.aurinko import AurinkoClient, RetryPolicy
from bridge.config import StoreConfig
from bridge.sandbox import ProfileConfig, SandboxApp
from bridge.store import Book
from bridge.sync import ConflictPolicy, EngineOptions, SyncEngine
from tests.conftest import TOKEN

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01)
# A write that fails on its own is due again at once (tests sync in quick rounds).
OUTBOX_NOW = RetryPolicy(max_attempts=40, base_delay=0.0, max_delay=0.0)


def no_sleep(seconds: float) -> None:
    pass


@dataclass
class Env:
    engine: SyncEngine
    book: Book
    remote: AurinkoClient  # another device editing the same account
    sandbox: SandboxApp
    url: str
    data_dir: Path
    store: StoreConfig | None = None  # None: SQLite in data_dir

    def reopen(self, policy: ConflictPolicy = ConflictPolicy.REMOTE_WINS) -> SyncEngine:
        """A new engine on the same data directory and store, as after a restart."""
        self.engine.close()
        self.engine = make_engine(self.data_dir, self.url, policy, store=self.store)
        book = self.engine.book("alice", "work")
        assert book is not None
        self.book = book
        return self.engine

    def card(self, href: str) -> str:
        row = self.engine.store.get(self.book.id, href)
        assert row is not None, href
        return row.vcard


def make_engine(
    data_dir: Path,
    url: str,
    policy: ConflictPolicy = ConflictPolicy.REMOTE_WINS,
    *,
    store: StoreConfig | None = None,
) -> SyncEngine:
    # Writes wait for Aurinko (the opt-in): these tests follow each write to its upstream end.
    options = EngineOptions(policy=policy, write_wait=30, retry=OUTBOX_NOW)
    engine = SyncEngine(data_dir, options=options, store=store)
    client = AurinkoClient(TOKEN, url, retry=FAST_RETRY, sleep=no_sleep, timeout=10)
    engine.attach("alice", "work", client)
    return engine


@pytest.fixture
def policy() -> ConflictPolicy:
    return ConflictPolicy.REMOTE_WINS


# The providers the sandbox can play (google's etags in their weak form, too): the engine's
# convergence tests run against each (``@pytest.mark.parametrize("profile", PROFILES)``).
PROFILES = ["generic", "office365", "google"]


@pytest.fixture
def profile() -> str:
    return "generic"


@pytest.fixture
def env(
    sandbox_app: SandboxApp,
    live_sandbox: str,
    tmp_path: Path,
    policy: ConflictPolicy,
    profile: str,
    store_config: StoreConfig | None,
) -> Iterator[Env]:
    sandbox_app.set_profile(ProfileConfig(profile, weak_etags=profile == "google"))
    data_dir = tmp_path / "bridge"
    engine = make_engine(data_dir, live_sandbox, policy, store=store_config)
    book = engine.book("alice", "work")
    assert book is not None
    remote = AurinkoClient(TOKEN, live_sandbox, retry=FAST_RETRY, sleep=no_sleep)
    environment = Env(engine, book, remote, sandbox_app, live_sandbox, data_dir, store_config)
    yield environment
    environment.engine.close()
    remote.close()


def vcard(uid: str, fn: str, *extra: str) -> str:
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"UID:{uid}", f"FN:{fn}", *extra, "END:VCARD"]
    return "\r\n".join(lines) + "\r\n"


def comparable(contact: dict) -> dict:
    """A contact without what the server maintains, for store-versus-sandbox checks."""
    skip = {"id", "etag", "createdTime", "lastModifiedTime", "hasPhoto"}
    out = {k: v for k, v in contact.items() if k not in skip and v is not None}
    for key in ("phoneNumbers",):
        if key in out:
            out[key] = [{k: v for k, v in p.items() if k != "canonicalForm"} for p in out[key]]
    return out


def assert_store_matches_sandbox(env: Env) -> None:
    """The store holds exactly the sandbox's contacts: same ids, same content, no extras."""
    remote = {c["id"]: c for c in env.sandbox.dump(TOKEN)}
    rows = (
        env.engine.store.db.connection()
        .execute("SELECT remote_id, remote_json FROM contacts WHERE book_id = ?", (env.book.id,))
        .fetchall()
    )
    local = {r["remote_id"]: json.loads(r["remote_json"]) for r in rows}
    assert None not in local, "a contact never reached Aurinko"
    assert sorted(local) == sorted(remote)
    for rid, contact in remote.items():
        assert comparable(local[rid]) == comparable(contact), rid
    assert env.engine.outbox.count(env.book.id) == 0
