"""``aurinko-bridge store copy --to URL``: a SQLite install moves to PostgreSQL with its
local books, its queued writes and its kept conflicts; ``serve`` on the PostgreSQL
configuration then serves the same cards, takes new ones (the ids go on past the copied
ones) and sends the queued write once Aurinko is back. A target that holds rows, and a
store a running process uses, are refused. The README's commands for it, and its pg_dump /
pg_restore backup, run as written."""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import subprocess
from pathlib import Path

import httpx
from psycopg import sql

from bridge.aurinko import AurinkoClient
from bridge.config import StoreConfig
from bridge.htpasswd import set_password
from bridge.sandbox import SandboxApp
from bridge.store import SQLiteDatabase
from bridge.store.copy import TABLES, sqlite_tables
from bridge.sync import SyncEngine
from tests.cli.serving import BRIDGE, serving, start_serve, stop_serve
from tests.conftest import TOKEN
from tests.postgres import PostgresServer, store_toml
from tests.readme import blocks, commands
from tests.sync.conftest import make_engine, vcard
from tests.wait import eventually


def _config(folder: Path, sandbox_url: str) -> Path:
    (folder / "work.token").write_text(TOKEN + "\n")
    (folder / "work.token").chmod(0o600)
    set_password(folder / "users.htpasswd", "alice", "alice-pw", rounds=4)
    config = folder / "bridge.toml"
    config.write_text(
        '[server]\ndata_dir = "var"\nhtpasswd = "users.htpasswd"\n\n[sync]\ninterval = 1\n\n'
        f'[[accounts]]\nname = "work"\nuser = "alice"\nbase_url = "{sandbox_url}"\n'
        'token_file = "work.token"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    return config


README_URL = "postgresql://bridge@db.example.org:5432/bridge"


def _bridge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BRIDGE, *args], capture_output=True, text=True, timeout=120)


def _readme_copy(folder: Path, url: str) -> subprocess.CompletedProcess[str]:
    """README, "Moving from SQLite to PostgreSQL": its command, run in the folder of
    bridge.toml, the database's URL aside."""
    [block] = [b for b in blocks("Moving from SQLite to PostgreSQL") if b.lang == "sh"]
    [command] = commands(block)
    args = shlex.split(command.replace(README_URL, url))
    assert args[0] == "aurinko-bridge", args
    return subprocess.run(
        [*BRIDGE, *args[1:]], capture_output=True, text=True, timeout=120, cwd=folder
    )


def _fill(data_dir: Path, sandbox_url: str, sandbox: SandboxApp) -> None:
    """A local book with Bob; in alice/work a conflict kept on Ann's nickname and a write
    of Cy queued while Aurinko answers 503 (and still does when this returns)."""
    engine = make_engine(data_dir, sandbox_url)
    try:
        book = engine.book("alice", "work")
        assert book is not None
        local = engine.create_local_book("alice", "private", {})
        engine.put(local, "bob.vcf", vcard("uid-bob", "Bob Local"))
        engine.put(book, "ann.vcf", vcard("uid-ann", "Ann"))
        sandbox.set_faults(error_rate=1.0, error_statuses=(503,), retry_after=None)
        engine.put(book, "ann.vcf", vcard("uid-ann", "Ann", "NICKNAME:Local"))
        sandbox.set_faults(error_rate=0.0)
        row = engine.store.get(book.id, "ann.vcf")
        assert row is not None and row.remote_id
        remote = AurinkoClient(TOKEN, sandbox_url)
        current = remote.get(row.remote_id)
        remote.update(row.remote_id, {"nickName": "Remote"}, etag=current["etag"])
        assert len(engine.sync(book).conflicts) == 1
        sandbox.set_faults(error_rate=1.0, error_statuses=(503,), retry_after=None)
        engine.put(book, "cy.vcf", vcard("uid-cy", "Cy Queued"))
        assert engine.outbox.count(book.id) == 1
    finally:
        engine.close()


def test_copy_carries_local_books_queued_writes_and_conflicts_to_postgresql(
    tmp_path: Path, live_sandbox: str, sandbox_app: SandboxApp, pg_store: StoreConfig
) -> None:
    config = _config(tmp_path, live_sandbox)
    _fill(tmp_path / "var", live_sandbox, sandbox_app)
    assert pg_store.password_file is not None
    shutil.copy(pg_store.password_file, tmp_path / "store.password")
    done = _readme_copy(tmp_path, pg_store.url)
    assert done.returncode == 0, done.stderr
    assert "  2 address books" in done.stdout and "  1 queued writes" in done.stdout
    assert "  1 conflicts" in done.stdout and f'url = "{pg_store.url}"' in done.stdout
    assert 'password_file = "store.password"' in done.stdout  # as bridge.toml reads it
    again = _bridge(
        "store", "copy", "--config", str(config),
        "--to", pg_store.url, "--password-file", str(pg_store.password_file),
    )  # fmt: skip
    assert again.returncode == 1 and "is not empty (" in again.stderr, again.stderr
    assert again.stderr.count("\n") == 1

    with config.open("a", encoding="utf-8") as file:
        file.write(store_toml(pg_store))
    (tmp_path / "var" / "store.sqlite3").rename(tmp_path / "old.sqlite3")  # not read again
    status = _bridge("status", "--offline", "--config", str(config))
    assert "alice/private (local)" in status.stdout, status.stderr
    assert "1 write waiting" in status.stdout and "1 conflict kept" in status.stdout

    sandbox_app.set_faults(error_rate=0.0)  # Aurinko is back
    with (
        serving(config) as url,
        httpx.Client(base_url=url, auth=("alice", "alice-pw"), timeout=30) as client,
    ):
        assert "FN:Bob Local" in client.get("alice/private/bob.vcf").text
        assert "NICKNAME:Remote" in client.get("alice/work/ann.vcf").text
        put = client.put(  # new rows take ids past the copied ones
            "alice/private/dee.vcf",
            content=vcard("uid-dee", "Dee New"),
            headers={"Content-Type": "text/vcard"},
        )
        assert put.status_code == 201, put.text

        def sent() -> bool:
            names = [c["name"]["displayName"] for c in sandbox_app.dump(TOKEN)]
            return "Cy Queued" in names

        eventually(sent, timeout=60, what="the queued write reaching the sandbox")
    assert not (tmp_path / "var" / "store.sqlite3").exists()


def test_copy_refuses_a_store_a_running_serve_holds(tmp_path: Path, live_sandbox: str) -> None:
    config = _config(tmp_path, live_sandbox)
    target = "postgresql://b@127.0.0.1:1/b"  # never reached
    process, _ = start_serve(config)
    try:
        done = _bridge("store", "copy", "--config", str(config), "--to", target)
    finally:
        stop_serve(process)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr == (
        f"aurinko-bridge: store copy: the store in {tmp_path / 'var'} is in use"
        " (a serve, watch or sync): stop it first\n"
    )
    after = _bridge("store", "copy", "--config", str(config), "--to", target)
    assert "cannot connect to the store at" in after.stderr  # serve gone: on to the target


def test_the_copy_knows_every_table_of_the_schema(tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "store.sqlite3")
    try:
        assert sqlite_tables(db) == {name for name, _ in TABLES}
    finally:
        db.close()


def test_the_readme_pg_dump_and_pg_restore_carry_the_store(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    """README, "Backups": its PostgreSQL block as written (the URLs aside: the backup
    restored into a second, empty database), and the restored store holds the cards."""
    [block] = [b for b in blocks("Backups") if "pg_dump" in b.text]
    dump, restore = commands(block)
    names = [f"bk_{secrets.token_hex(4)}" for _ in range(2)]
    with postgres.admin("postgres") as admin:
        for name in names:
            admin.execute(sql.SQL("CREATE DATABASE {} OWNER bridge").format(sql.Identifier(name)))
    urls = [postgres.url().rsplit("/", 1)[0] + f"/{name}" for name in names]
    stores = [StoreConfig(url=url, password_file=postgres.password_file) for url in urls]
    try:
        engine = SyncEngine(tmp_path / "var", store=stores[0])
        try:
            book = engine.create_local_book("alice", "private", {})
            engine.put(book, "ann.vcf", vcard("uid-ann", "Ann Dumped"))
        finally:
            engine.close()
        env = dict(
            os.environ,
            PGPASSWORD=postgres.password,
            PATH=f"{postgres.bin}{os.pathsep}{os.environ['PATH']}",  # the server's version
        )
        for command, url in ((dump, urls[0]), (restore, urls[1])):
            args = shlex.split(command.replace(README_URL, url))
            done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
        engine = SyncEngine(tmp_path / "var2", store=stores[1])
        try:
            restored = engine.book("alice", "private")
            assert restored is not None
            row = engine.store.get(restored.id, "ann.vcf")
            assert row is not None and "FN:Ann Dumped" in row.vcard
        finally:
            engine.close()
    finally:
        with postgres.admin("postgres") as admin:
            for name in names:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
