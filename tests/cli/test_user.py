"""``aurinko-bridge user``: real processes, and a running ``serve`` that follows each change
at the next request."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bridge import htpasswd
from tests.cli.serving import BRIDGE, serving
from tests.conftest import write_bridge_config


def bridge(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``stdin`` is a pipe, never a terminal: the password is its first line."""
    return subprocess.run(
        [*BRIDGE, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def config_with_users(tmp_path: Path, url: str = "http://127.0.0.1:9/v1") -> Path:
    config = write_bridge_config(tmp_path, url)
    text = config.read_text().replace("[server]\n", '[server]\nhtpasswd = "users.htpasswd"\n')
    config.write_text(text)
    return config


@pytest.mark.slow
def test_users_added_changed_and_removed_while_serve_runs(
    live_sandbox: str, tmp_path: Path
) -> None:
    config = config_with_users(tmp_path, live_sandbox)
    users = tmp_path / "users.htpasswd"
    users.write_text("# CardDAV users\n")  # no bcrypt entry when the server starts
    users.chmod(0o600)
    cfg = ("--config", str(config))

    with serving(config) as url, httpx.Client(base_url=url, timeout=30) as client:

        def status(user: str, password: str, path: str = "") -> int:
            headers = {"Depth": "0"}
            answer = client.request(
                "PROPFIND", path or f"/{user}/", headers=headers, auth=(user, password)
            )
            return answer.status_code

        assert status("alice", "first pw: ä") == 401  # and remembered as a failed login

        added = bridge("user", "add", "alice", *cfg, stdin="first pw: ä\n")
        assert (added.returncode, added.stderr) == (0, "")
        assert added.stdout == f"added user alice to {users}\n"
        assert status("alice", "first pw: ä") == 207
        assert status("alice", "first pw: ä", "/alice/work/") == 207
        assert status("alice", "wrong") == 401

        bob = bridge("user", "add", "bob", *cfg, stdin="bob-pw\n")
        assert (
            bob.stdout
            == f'added user bob to {users} (no [[accounts]] entry has user = "bob" yet)\n'
        )
        assert status("bob", "bob-pw") == 207
        assert status("bob", "bob-pw", "/alice/work/") in (403, 404)  # not bob's book

        changed = bridge("user", "passwd", "alice", *cfg, stdin="second-pw\n")
        assert (changed.returncode, changed.stderr) == (0, "")
        assert changed.stdout == f"changed the password of alice in {users}\n"
        assert status("alice", "second-pw") == 207
        assert status("alice", "first pw: ä") == 401  # although it was just accepted

        removed = bridge("user", "remove", "alice", *cfg)
        assert (removed.returncode, removed.stderr) == (0, "")
        assert removed.stdout == f"removed user alice from {users}\n"
        assert status("alice", "second-pw") == 401
        assert status("bob", "bob-pw") == 207

        assert bridge("user", "list", *cfg).stdout == "bob\n"

    text = users.read_text()
    assert text.startswith("# CardDAV users\nbob:$2b$12$")  # bcrypt at its default cost
    assert len(text.splitlines()) == 2
    assert stat.S_IMODE(users.stat().st_mode) == 0o600


def test_without_a_config_the_demo_users_file_is_used(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    added = bridge("user", "add", "bob", "--demo-dir", str(demo), stdin="bob-pw\n")
    assert (added.returncode, added.stderr) == (0, "")
    assert added.stdout == f"added user bob to {demo / 'users.htpasswd'}\n"
    assert bridge("user", "list", "--demo-dir", str(demo)).stdout == "bob\n"
    assert stat.S_IMODE(demo.stat().st_mode) == 0o700
    assert stat.S_IMODE((demo / "users.htpasswd").stat().st_mode) == 0o600
    assert not (demo / "sandbox.sqlite3").exists()  # no sandbox started for a user edit


def _existing(config: Path) -> None:
    htpasswd.add_user(config.parent / "users.htpasswd", "alice", "alice-pw", rounds=4)


def _no_htpasswd(config: Path) -> None:
    config.write_text(config.read_text().replace('htpasswd = "users.htpasswd"\n', ""))


def _folder(config: Path) -> None:
    (config.parent / "users.htpasswd").mkdir()


def _gone(config: Path) -> None:
    config.unlink()


Setup = Callable[[Path], None]


@pytest.mark.parametrize(
    ("setup", "args", "stdin", "message"),
    [
        (_existing, ["add", "alice"], "pw\n", "user alice already exists in "),
        (_existing, ["add", "ALICE"], "pw\n", "user alice already exists in "),
        (_existing, ["passwd", "carol"], "pw\n", "no user carol in "),
        (_existing, ["remove", "carol"], "", "no user carol in "),
        (_existing, ["add", "b/x"], "pw\n", "invalid user name 'b/x'"),
        (_existing, ["add", "carol"], "", "the password is empty"),
        (_existing, ["add", "carol"], "x" * 73 + "\n", "73 bytes long"),
        (_existing, ["passwd", "alice"], "\n", "the password is empty"),
        (_gone, ["add", "carol"], "pw\n", "cannot read"),
        (_no_htpasswd, ["list"], "", "[server] htpasswd is not set"),
        (_folder, ["list"], "", "Is a directory"),
    ],
    ids=[
        "add-existing",
        "add-case-variant",
        "passwd-unknown",
        "remove-unknown",
        "bad-name",
        "empty-password",
        "long-password",
        "passwd-empty",
        "no-config",
        "no-htpasswd-key",
        "htpasswd-is-a-folder",
    ],
)
def test_errors_are_one_line_and_change_nothing(
    tmp_path: Path, setup: Setup, args: list[str], stdin: str, message: str
) -> None:
    config = config_with_users(tmp_path)
    setup(config)
    users = tmp_path / "users.htpasswd"
    before = users.read_bytes() if users.is_file() else None
    result = bridge("user", *args, "--config", str(config), stdin=stdin)
    assert result.returncode != 0
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"aurinko-bridge: user {args[0]}: ")
    assert message in result.stderr
    assert (users.read_bytes() if users.is_file() else None) == before


def test_serve_without_any_user_says_how_to_create_one(tmp_path: Path) -> None:
    config = config_with_users(tmp_path)
    served = subprocess.run(
        [*BRIDGE, "serve", "--config", str(config), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert served.returncode != 0 and "Traceback" not in served.stderr
    assert "no CardDAV users yet" in served.stderr
    assert f"aurinko-bridge user add NAME --config {config}" in served.stderr
