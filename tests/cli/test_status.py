"""``aurinko-bridge status`` and ``status --json``: each book's facts, as a user reads them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bridge.sandbox import SandboxApp
from tests.conftest import TOKEN, write_bridge_config
from tests.sync.conftest import make_engine, vcard


def _bridge(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bridge", *args, "--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _book_with_a_conflict_and_a_parked_write(sandbox: SandboxApp, url: str, data_dir: Path) -> None:
    engine = make_engine(data_dir, url)
    book = engine.book("alice", "work")
    assert book is not None
    engine.put(book, "ann.vcf", vcard("uid-ann", "Ann"))
    sandbox.set_faults(error_rate=1.0, error_statuses=(503,), retry_after=None)
    engine.put(book, "ann.vcf", vcard("uid-ann", "Ann", "NICKNAME:Annie"))
    sandbox.set_faults(error_rate=0.0)
    row = engine.store.get(book.id, "ann.vcf")
    assert row is not None and row.remote_id
    remote = engine.clients[book.id]
    remote.update(row.remote_id, {"nickName": "Nan"}, etag=remote.get(row.remote_id)["etag"])
    assert engine.sync(book).conflicts
    sandbox.set_faults(error_rate=1.0, error_statuses=(400,))
    engine.put(book, "bad.vcf", vcard("uid-bad", "Bad"))
    sandbox.set_faults(error_rate=0.0)
    engine.close()


def test_json_status_has_every_fact_of_a_book(
    sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path
) -> None:
    config = write_bridge_config(tmp_path, live_sandbox)
    _book_with_a_conflict_and_a_parked_write(sandbox_app, live_sandbox, tmp_path / "var")
    answer = _bridge(config, "status", "--json")
    assert answer.returncode == 0, answer.stderr
    (book,) = json.loads(answer.stdout)
    assert (book["path"], book["owner"], book["kind"]) == ("alice/work", "alice", "aurinko")
    assert book["account"] == live_sandbox and book["token"]["state"] == "ok"
    assert book["contacts"] == 2 and book["waiting"] == 0
    assert book["last_pull"] is not None and book["last_pull_age"] >= 0
    assert book["last_push"] is not None and book["last_push_age"] >= 0
    (parked,) = book["parked"]
    assert parked["href"] == "bad.vcf" and parked["op"] == "create" and "400" in parked["reason"]
    (conflict,) = book["conflicts"]
    assert conflict["href"] == "ann.vcf" and conflict["outcome"] == "remote-wins"
    assert conflict["fields"] == ["nickName"]
    assert "NICKNAME:Annie" in Path(conflict["path"]).read_text(encoding="utf-8")


def test_text_status_names_the_same_facts(
    sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path
) -> None:
    config = write_bridge_config(tmp_path, live_sandbox)
    _book_with_a_conflict_and_a_parked_write(sandbox_app, live_sandbox, tmp_path / "var")
    answer = _bridge(config, "status")
    assert answer.returncode == 0, answer.stderr
    text = answer.stdout
    assert f"account: {live_sandbox}; user: alice; token works" in text
    assert "2 contacts; 0 writes waiting, 1 parked, 1 conflict kept" in text
    assert "last pull: " in text and "last push: never" not in text
    assert "parked #" in text and "bad.vcf" in text
    assert "conflict #" in text and "losing version: " + str(tmp_path / "var") in text


def test_a_refused_token_is_reported_and_offline_skips_the_check(
    sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path
) -> None:
    config = write_bridge_config(tmp_path, live_sandbox)
    _book_with_a_conflict_and_a_parked_write(sandbox_app, live_sandbox, tmp_path / "var")
    (tmp_path / "work.token").write_text("a-token-aurinko-never-issued\n")
    answer = _bridge(config, "status", "--json")
    assert answer.returncode == 0, answer.stderr
    # The sandbox answers an unknown token 401 token.dead, as Aurinko does a dead grant's.
    assert json.loads(answer.stdout)[0]["token"]["state"] == "dead"
    expected = "token dead: run aurinko-bridge account relink alice/work"
    assert expected in _bridge(config, "status").stdout
    offline = _bridge(config, "status", "--json", "--offline")
    assert json.loads(offline.stdout)[0]["token"]["state"] == "unchecked"


def test_an_unreachable_aurinko_still_gives_a_status(tmp_path: Path) -> None:
    config = write_bridge_config(tmp_path, "http://127.0.0.1:9/v1")  # nothing listens there
    answer = _bridge(config, "status", "--json")
    assert answer.returncode == 0, answer.stderr
    (book,) = json.loads(answer.stdout)  # configured, never synced: listed all the same
    assert book["path"] == "alice/work" and book["last_pull"] is None
    assert book["token"]["state"] == "unreachable" and book["token"]["detail"]


def test_a_dead_grant_says_run_relink_and_an_invalid_one_that_aurinko_retries(
    sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path
) -> None:
    config = write_bridge_config(tmp_path, live_sandbox)
    sandbox_app.set_token_status(TOKEN, "dead")
    answer = _bridge(config, "status")
    assert "token dead: run aurinko-bridge account relink alice/work" in answer.stdout
    assert json.loads(_bridge(config, "status", "--json").stdout)[0]["token"]["state"] == "dead"
    sandbox_app.set_token_status(TOKEN, "invalid")
    answer = _bridge(config, "status")
    assert "Aurinko is retrying" in answer.stdout and "relink" not in answer.stdout
