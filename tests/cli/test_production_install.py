"""README, "Quick start": the production install, ``pip install .`` from a clone into a
virtualenv of its own, installs the bridge with its runtime dependencies and nothing else,
and the installed command runs the embedded demo (its address book is package data)."""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEST_TOOLS = ("pytest", "ruff", "mypy", "playwright", "vdirsyncer", "khard")


@pytest.mark.slow
def test_pip_install_dot_gives_the_runtime_alone_and_a_working_command(tmp_path: Path) -> None:
    clone = tmp_path / "clone"  # a copy: building in the checkout would leave build/ behind
    shutil.copytree(
        ROOT,
        clone,
        ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__"),
    )
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    pip = [str(env_dir / "bin" / "python"), "-m", "pip"]
    subprocess.run([*pip, "install", "--quiet", "."], cwd=clone, check=True, timeout=600)
    installed = subprocess.run(
        [*pip, "list", "--format=freeze"], capture_output=True, text=True, check=True
    ).stdout.lower()
    assert "aurinko-carddav-bridge" in installed.replace("_", "-")
    assert not [tool for tool in TEST_TOOLS if f"\n{tool}==" in f"\n{installed}"], installed
    home = tmp_path / "home"
    home.mkdir()
    status = subprocess.run(
        [str(env_dir / "bin" / "aurinko-bridge"), "status", "--offline"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=home,
        env={
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
        },
    )
    assert status.returncode == 0, status.stderr
    assert "using the embedded demo" in status.stderr
    assert "demo/contacts" in status.stdout  # the demo's book, from the package's data
