"""Which configuration a command uses without ``--config``: ``./bridge.toml``, else the
user's file, else the embedded demo; stderr says which, so no command quietly acts on the
demo (issue 23, point 3)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.serving import BRIDGE
from tests.cli.test_user import config_with_users


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """An environment whose user folders (data, configuration) are the test's own."""
    return dict(
        os.environ,
        HOME=str(tmp_path / "home"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )


def bridge(
    cwd: Path, env: dict[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BRIDGE, *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def demo_folder(tmp_path: Path) -> Path:
    return tmp_path / "data" / "aurinko-bridge" / "demo"


def test_a_folders_bridge_toml_is_used_and_named(tmp_path: Path, home: dict[str, str]) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    config_with_users(folder)
    added = bridge(folder, home, "user", "add", "bob", stdin="bob-password\n")
    assert added.returncode == 0, added.stderr
    assert added.stderr == "aurinko-bridge: using the configuration ./bridge.toml" + (
        " (--config FILE for another)\n"
    )
    assert (folder / "users.htpasswd").read_text().startswith("bob:")
    status = bridge(folder, home, "status", "--offline")
    assert status.returncode == 0, status.stderr
    assert "alice/work (aurinko)" in status.stdout
    assert "./bridge.toml" in status.stderr and "demo" not in status.stderr
    assert not demo_folder(tmp_path).exists()  # the demo's sandbox never started


def test_the_users_own_configuration_comes_next(tmp_path: Path, home: dict[str, str]) -> None:
    own = tmp_path / "config" / "aurinko-bridge"
    own.mkdir(parents=True)
    config_with_users(own)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    added = bridge(elsewhere, home, "user", "add", "carol", stdin="carol-password\n")
    assert added.returncode == 0, added.stderr
    assert f"using the configuration {own / 'bridge.toml'}" in added.stderr
    assert (own / "users.htpasswd").read_text().startswith("carol:")
    assert not demo_folder(tmp_path).exists()


def test_the_demo_only_when_there_is_none_and_it_says_so(
    tmp_path: Path, home: dict[str, str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    added = bridge(empty, home, "user", "add", "dave", stdin="dave-password\n")
    assert added.returncode == 0, added.stderr
    assert f"using the embedded demo in {demo_folder(tmp_path)}" in added.stderr
    assert "no --config, and neither ./bridge.toml nor" in added.stderr
    assert (demo_folder(tmp_path) / "users.htpasswd").read_text().startswith("dave:")


def test_an_explicit_config_is_not_announced(tmp_path: Path, home: dict[str, str]) -> None:
    config = config_with_users(tmp_path)
    listed = bridge(tmp_path, home, "user", "list", "--config", str(config))
    assert (listed.returncode, listed.stderr) == (0, "")
