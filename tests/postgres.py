"""A real PostgreSQL server for the store's tests: Debian's binaries, a throwaway cluster
in a temporary folder on a free 127.0.0.1 port, started once per session on first use.
Each test gets a fresh schema of one database (a ``StoreConfig`` whose URL puts it first
on the search path): a CREATE SCHEMA, not a CREATE DATABASE, so it costs milliseconds.

The store connects as a role with a password (scram-sha-256), read from a private
``password_file`` as a user's would be. ``.ci/ensure-postgres`` (run by ``make test``)
installs the server; missing binaries fail the tests that need it, never skip them.

initdb and postgres refuse to run as root: as root they run as Debian's ``postgres`` user.
The server is stopped at the end of the session, at exit, and by a guard process when
the test process is killed outright (SIGKILL runs neither).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from bridge.config import StoreConfig

ADMIN = "admin"  # the cluster's superuser
ROLE = "bridge"  # what the store connects as: owns the database, no superuser
DATABASE = "bridge"
START_TIMEOUT = 60.0

# Kills the server once the test process is gone (its stdin, a pipe from us, reaches EOF
# whichever way we ended), then removes the cluster. SIGINT is PostgreSQL's fast shutdown.
_GUARD = """
import os, shutil, signal, sys, time

def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

sys.stdin.buffer.read()
root = sys.argv[1]
try:
    pid = int(open(os.path.join(root, "data", "postmaster.pid")).readline())
except (OSError, ValueError):
    pid = None
for sig, wait in ((signal.SIGINT, 10.0), (signal.SIGKILL, 5.0)):
    if pid is None or not alive(pid):
        break
    os.kill(pid, sig)
    deadline = time.monotonic() + wait
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
shutil.rmtree(root, ignore_errors=True)
"""


def postgres_bin() -> Path:
    """The newest installed server's binaries (``BRIDGE_PG_BIN`` overrides)."""
    configured = os.environ.get("BRIDGE_PG_BIN")
    candidates = [Path(configured)] if configured else []
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)],
        reverse=True,
    )
    for folder in [*candidates, *found]:
        if (folder / "initdb").exists() and (folder / "postgres").exists():
            return folder
    pytest.fail(
        "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb):"
        " run .ci/ensure-postgres (make test does)"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One cluster: ``start()``, ``new_store()`` per test, ``stop()`` (idempotent)."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="bridge-postgres-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = 0
        self.admin_password = secrets.token_urlsafe(16)
        self.password = secrets.token_urlsafe(16)
        self.password_file = self.root / "store.password"
        self.process: subprocess.Popen[bytes] | None = None
        self.guard: subprocess.Popen[bytes] | None = None
        self._schemas = count(1)
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("running as root needs the postgres user: run .ci/ensure-postgres")
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
            os.chown(self.root, account.pw_uid, account.pw_gid)

    # -- the cluster -------------------------------------------------------------------

    def start(self) -> None:
        atexit.register(self.stop)
        admin_pw = self.root / "admin.password"
        admin_pw.write_text(self.admin_password + "\n")
        if self._as_postgres:
            account = pwd.getpwnam("postgres")
            os.chown(admin_pw, account.pw_uid, account.pw_gid)
        admin_pw.chmod(0o600)
        self._run(
            "initdb", "-D", str(self.data), "-U", ADMIN, f"--pwfile={admin_pw}",
            "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip
        admin_pw.unlink()
        for attempt in range(3):  # a free port can be taken between our check and its bind
            self.port = _free_port()
            if self._launch():
                break
            if attempt == 2:
                pytest.fail(f"PostgreSQL did not start:\n{self._log_tail()}")
        with self.admin("postgres") as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(ROLE), sql.Literal(self.password)
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(DATABASE), sql.Identifier(ROLE)
                )
            )
        self.password_file.write_text(self.password + "\n")
        self.password_file.chmod(0o600)

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as_postgres, str(self.bin / program), *args],
            capture_output=True,
            text=True,
            cwd=self.root,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"{program} failed:\n{done.stdout}{done.stderr}")

    def _launch(self) -> bool:
        """Start the server and wait until it answers; False if it died (port taken)."""
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "",  # TCP only: nothing outside the folder
            "max_connections": "300",  # leaked engines must not starve later tests
            # A throwaway cluster: durability buys nothing and costs every test time.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
        with self.log.open("ab") as log:
            # Its own session: a Ctrl-C meant for pytest is not PostgreSQL's to get.
            self.process = subprocess.Popen(
                [*self._as_postgres, str(self.bin / "postgres"), "-D", str(self.data), *options],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.root,
                start_new_session=True,
            )
        self._start_guard()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with self.admin("postgres"):
                    return True
            except psycopg.OperationalError:
                time.sleep(0.05)
        self.stop()
        pytest.fail(f"PostgreSQL did not answer within {START_TIMEOUT:g} s:\n{self._log_tail()}")

    def _start_guard(self) -> None:
        if self.guard is not None:
            self.guard.kill()
            self.guard.wait()
        self.guard = subprocess.Popen(
            [sys.executable, "-c", _GUARD, str(self.root)],
            stdin=subprocess.PIPE,
            start_new_session=True,
        )

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Fast shutdown (clients disconnected, nothing waited for), then the folder goes."""
        if self.guard is not None:
            self.guard.kill()  # we stop it ourselves: the guard must not fire later
            self.guard.wait()
            self.guard = None
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
                os.kill(pid, signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)

    def halt(self) -> None:
        """An outage: the server shuts down (fast), its data kept for ``resume``."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, signal.SIGINT)
        process.wait(timeout=30)

    def resume(self) -> None:
        """The server back after ``halt``, on the same port."""
        if not self._launch():
            pytest.fail(f"PostgreSQL did not start again:\n{self._log_tail()}")

    # -- connections and stores ----------------------------------------------------------

    def admin(self, dbname: str = DATABASE) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=ADMIN,
            password=self.admin_password,
            dbname=dbname,
            autocommit=True,
            connect_timeout=5,
        )

    def url(self, schema: str | None = None, *, user: str = ROLE, port: int = 0) -> str:
        """The store URL (no password in it); ``schema`` first on the search path, and
        the connections' application_name, to find (and end) them."""
        base = f"postgresql://{user}@127.0.0.1:{port or self.port}/{DATABASE}"
        if schema is None:
            return base
        return f"{base}?application_name={schema}&options=-csearch_path%3D{schema}"

    def new_store(self) -> StoreConfig:
        """A fresh, empty schema for one store, owned by the store's role."""
        schema = f"t{next(self._schemas)}_{secrets.token_hex(3)}"
        with self.admin() as conn:
            conn.execute(
                sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
                    sql.Identifier(schema), sql.Identifier(ROLE)
                )
            )
        return StoreConfig(url=self.url(schema), password_file=self.password_file)

    def drop(self, store: StoreConfig) -> None:
        """End the connections a test left open (an engine never closed) and drop its
        schema: a later test must not meet them."""
        found = re.search(r"application_name=(\w+)", store.url)
        assert found is not None
        schema = found.group(1)
        with self.admin() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE (application_name = %s OR application_name LIKE %s)"
                " AND pid <> pg_backend_pid()",
                (schema, schema + " %"),
            )
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A cluster of its own, stopped (and removed) at the end of the block."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (started on first use)."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def pg_store(postgres: PostgresServer) -> Iterator[StoreConfig]:
    """A fresh PostgreSQL store (``[store]`` of a configuration), for PostgreSQL-only tests."""
    store = postgres.new_store()
    yield store
    postgres.drop(store)


def store_toml(store: StoreConfig | None) -> str:
    """The ``[store]`` section of a configuration file for ``store`` ("" for SQLite)."""
    if store is None:
        return ""
    assert store.password_file is not None
    return f'\n[store]\nurl = "{store.url}"\npassword_file = "{store.password_file}"\n'
