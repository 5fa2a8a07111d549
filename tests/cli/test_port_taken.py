"""A taken port (5232 is Radicale's default too) is one line naming the address and
suggesting ``--port``, never a bare ``[Errno 98]``; ``make serve PORT=...`` passes the
port on (issue 23, point 4)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge import htpasswd
from tests.cli.serving import BRIDGE
from tests.cli.test_user import config_with_users

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another program listens on for the whole test."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def environment(tmp_path: Path) -> dict[str, str]:
    return dict(
        os.environ,
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )


def assert_one_clear_line(done: subprocess.CompletedProcess[str], port: int) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "Errno" not in done.stderr, done.stderr
    failure = [line for line in done.stderr.splitlines() if "cannot listen" in line]
    assert failure == [
        f"aurinko-bridge: serve: cannot listen on 127.0.0.1:{port}: another program already"
        " uses it (Radicale's default port is 5232 too); stop it, or choose another port:"
        f" --port {port + 1} (make serve PORT=...) or [server] port"
    ], done.stderr


def test_serve_on_a_taken_port_names_it_and_suggests_another(
    tmp_path: Path, taken_port: int
) -> None:
    config = config_with_users(tmp_path)
    htpasswd.add_user(tmp_path / "users.htpasswd", "alice", "alice-pw", rounds=4)
    done = subprocess.run(
        [*BRIDGE, "serve", "--config", str(config), "--port", str(taken_port)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert_one_clear_line(done, taken_port)
    assert done.stderr.count("\n") == 1  # that line alone


def test_make_serve_passes_port_on(tmp_path: Path, taken_port: int) -> None:
    """The demo through ``make serve PORT=N``: it tries N (held here), not 5232."""
    venv = Path(sys.executable).parent.parent
    stamp = venv / ".runtime-stamp"
    done = subprocess.run(
        # -o: this environment is installed; the test must not reinstall it.
        ["make", "-s", "-o", str(stamp), "serve", f"PORT={taken_port}", f"VENV={venv}"],
        cwd=REPO,
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert_one_clear_line(done, taken_port)
