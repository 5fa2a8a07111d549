"""A real ``serve`` for the operators' doors: health, metrics and the logs."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bridge.config import StoreConfig
from bridge.htpasswd import set_password
from bridge.sandbox import SandboxApp
from tests.cli.serving import start_serve, stop_serve
from tests.conftest import TOKEN
from tests.postgres import store_toml

METRICS_TOKEN = "scrape-token-0123456789abcdef"


def card(uid: str, fn: str | None = None) -> str:
    return f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{fn or uid}\r\nEND:VCARD\r\n"


def write_config(
    folder: Path,
    sandbox_url: str,
    *,
    store: StoreConfig | None = None,
    metrics: bool = True,
    extra: str = "",
) -> Path:
    """alice/work on ``sandbox_url``; a metrics token file (0600) unless ``metrics`` False."""
    (folder / "work.token").write_text(TOKEN)
    (folder / "work.token").chmod(0o600)
    set_password(folder / "users.htpasswd", "alice", "alice-pw", rounds=4)
    sections = ""
    if metrics:
        (folder / "metrics.token").write_text(METRICS_TOKEN + "\n")
        (folder / "metrics.token").chmod(0o600)
        sections += '[metrics]\ntoken_file = "metrics.token"\n\n'
    config = folder / "bridge.toml"
    config.write_text(
        '[server]\ndata_dir = "var"\nhtpasswd = "users.htpasswd"\n\n'
        "[sync]\nfreshness = 0\ninterval = 3600\n\n"
        f"{sections}{extra}{store_toml(store)}\n"
        '[[accounts]]\nname = "work"\nuser = "alice"\n'
        f'base_url = "{sandbox_url}"\ntoken_file = "work.token"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    return config


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]
    sandbox: SandboxApp

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=("alice", "alice-pw"), timeout=30)


@pytest.fixture
def served(
    sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path, store_config: StoreConfig | None
) -> Iterator[Served]:
    """``serve`` on the test's store backend, metrics on."""
    config = write_config(tmp_path, live_sandbox, store=store_config)
    process, url = start_serve(config)
    try:
        yield Served(url, process, sandbox_app)
    finally:
        err = stop_serve(process)
    assert "Traceback" not in err, err
