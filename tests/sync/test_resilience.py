"""Faults at a high rate, lost replies and kill -9: nothing lost, nothing duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.sandbox import ProfileConfig, SandboxApp
from tests.conftest import TOKEN, write_bridge_config
from tests.postgres import store_toml
from tests.sync.conftest import PROFILES, Env, assert_store_matches_sandbox, vcard
from tests.wait import eventually


def _names(sandbox: SandboxApp) -> list[str]:
    return sorted(c["name"]["displayName"] for c in sandbox.dump(TOKEN))


def _settle(env: Env, rounds: int = 40) -> None:
    """Sync until a run completes cleanly, as the background loop would."""
    for _ in range(rounds):
        report = env.engine.sync(env.book)
        if report.error is None and env.engine.outbox.count(env.book.id) == 0:
            return
    raise AssertionError(f"no clean sync in {rounds} rounds: {report.error}")


@pytest.mark.sandbox(page_size=4)
@pytest.mark.parametrize("profile", PROFILES)
def test_every_fault_kind_at_a_high_rate_converges(env: Env) -> None:
    remote_ids = [env.remote.create({"name": {"displayName": f"R{i}"}}).id for i in range(12)]
    env.engine.sync(env.book)
    env.sandbox.set_faults(
        error_rate=0.3,
        error_statuses=(429, 500, 503),
        retry_after=None,
        drop_rate=0.1,
        drop_after_rate=0.1,
        latency=0.001,
        seed=1234,
    )
    for i in range(15):
        env.engine.put(env.book, f"l{i}.vcf", vcard(f"uid-l{i}", f"L{i}"))
    for i in range(0, 15, 3):
        env.engine.put(env.book, f"l{i}.vcf", vcard(f"uid-l{i}", f"L{i}", "NICKNAME:edited"))
    for i in range(1, 15, 5):
        env.engine.delete(env.book, f"l{i}.vcf")
    _settle(env)
    env.sandbox.set_faults(error_rate=0.0, drop_rate=0.0, drop_after_rate=0.0, latency=0.0)
    for rid in remote_ids[:3]:
        env.remote.delete(rid)
    _settle(env)

    expected = sorted([f"R{i}" for i in range(3, 12)] + [f"L{i}" for i in range(15) if i % 5 != 1])
    assert _names(env.sandbox) == expected  # no duplicates, no losses
    edited = [c for c in env.sandbox.dump(TOKEN) if c.get("nickName") == "edited"]
    assert sorted(c["name"]["displayName"] for c in edited) == ["L0", "L12", "L3", "L9"]
    assert_store_matches_sandbox(env)


PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
FULL = (
    "NOTE:call after six",
    "BDAY:1980-02-03",
    "URL:https://example.com/",
    "NICKNAME:nick",
    f"PHOTO;ENCODING=b;TYPE=PNG:{PNG}",
)
REMOVED = {"notes", "birthday", "urls", "nickName"}


@pytest.mark.parametrize("switch", ["null_ignored", "empty_unchanged"])
def test_removals_converge_under_faults_however_aurinko_reads_a_removal(
    env: Env, switch: str
) -> None:
    """Issue 22: NOTE, BDAY, URL, NICKNAME and PHOTO removed from cards while a third of the
    calls fail or lose their answers, with Aurinko ignoring null or ignoring empty values:
    every removal ends up made upstream, none is held, and no card gets a field back."""
    env.sandbox.set_profile(ProfileConfig("generic", **{switch: True}))
    for i in range(6):
        env.engine.put(env.book, f"r{i}.vcf", vcard(f"uid-r{i}", f"R{i}", *FULL))
    _settle(env)
    assert all(set(c) >= REMOVED and c["hasPhoto"] for c in env.sandbox.dump(TOKEN))
    env.sandbox.set_faults(
        error_rate=0.3,
        error_statuses=(429, 500, 503),
        retry_after=None,
        drop_rate=0.1,
        drop_after_rate=0.1,
        seed=4321,
    )
    for i in range(6):
        env.engine.put(env.book, f"r{i}.vcf", vcard(f"uid-r{i}", f"R{i}"))
    _settle(env)
    env.sandbox.set_faults(error_rate=0.0, drop_rate=0.0, drop_after_rate=0.0)
    _settle(env)
    upstream = env.sandbox.dump(TOKEN)
    assert len(upstream) == 6
    assert all(not REMOVED & {k for k, v in c.items() if v} for c in upstream), upstream
    assert not any(c["hasPhoto"] for c in upstream)
    for i in range(6):
        row = env.engine.store.get(env.book.id, f"r{i}.vcf")
        assert row is not None and not row.held
        assert not any(p in row.vcard for p in ("NOTE", "BDAY", "URL", "NICKNAME", "PHOTO"))


@pytest.mark.parametrize("profile", PROFILES)
def test_lost_create_reply_does_not_duplicate(env: Env) -> None:
    env.sandbox.set_faults(drop_after_rate=1.0)
    env.engine.put(env.book, "a.vcf", vcard("uid-a", "Ann"))
    assert _names(env.sandbox) == ["Ann"]  # the server acted; the reply was lost
    (op,) = env.engine.outbox.pending(env.book.id)
    assert op.uncertain
    env.sandbox.set_faults(drop_after_rate=0.0)
    _settle(env)
    assert _names(env.sandbox) == ["Ann"]
    assert_store_matches_sandbox(env)


def _start_sync(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bridge", "sync", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stored(env: Env) -> int:
    """What the other process has stored so far, read through the test's own engine (on
    the same store, whichever backend it is)."""
    return env.engine.store.count(env.book.id)


def _kill(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.sandbox(
    page_size=5, seed_contacts=[{"name": {"displayName": f"S{i}"}} for i in range(300)]
)
@pytest.mark.parametrize("profile", PROFILES)
def test_kill_during_initial_sync_then_restart(env: Env, tmp_path: Path) -> None:
    env.sandbox.set_faults(latency=0.01)
    config = write_bridge_config(
        tmp_path, env.url, data_dir=str(env.data_dir), extra=store_toml(env.store)
    )
    process = _start_sync(config)
    eventually(lambda: _stored(env) >= 20, timeout=60)
    _kill(process)
    assert _stored(env) < 300  # really interrupted mid-way
    env.sandbox.set_faults(latency=0.0)
    assert _start_sync(config).wait(timeout=120) == 0
    env.reopen()
    assert env.engine.store.count(env.book.id) == 300
    assert_store_matches_sandbox(env)


@pytest.mark.slow
@pytest.mark.parametrize("profile", PROFILES)
def test_kill_during_push_then_restart(env: Env, tmp_path: Path) -> None:
    env.sandbox.set_faults(error_rate=1.0, error_statuses=(503,), retry_after=None)
    for i in range(120):
        env.engine.put(env.book, f"c{i}.vcf", vcard(f"uid-{i}", f"C{i:03d}"))
    env.engine.close()
    env.sandbox.set_faults(error_rate=0.0, latency=0.02)
    config = write_bridge_config(
        tmp_path, env.url, data_dir=str(env.data_dir), extra=store_toml(env.store)
    )
    process = _start_sync(config)
    eventually(lambda: len(env.sandbox.dump(TOKEN)) >= 10, timeout=60)
    _kill(process)
    assert len(env.sandbox.dump(TOKEN)) < 120
    env.sandbox.set_faults(latency=0.0)
    assert _start_sync(config).wait(timeout=120) == 0
    assert _names(env.sandbox) == [f"C{i:03d}" for i in range(120)]
    env.reopen()
    assert_store_matches_sandbox(env)
