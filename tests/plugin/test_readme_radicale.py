"""README, "Inside an existing Radicale", run as written (paths and port aside): its TOML and
INI pasted into files, its shell lines run, stock ``python -m radicale`` and the wrapper
example (``examples/bridge_wsgi.py``) started on 127.0.0.1 and asked a PROPFIND with the
block's user (issue 23, point 1)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.plugin.conftest import card, mkcol_book
from tests.ports import reserved_port
from tests.readme import blocks, commands
from tests.wait import eventually

SECTION = "Inside an existing Radicale"
REPO = Path(__file__).resolve().parents[2]
PASSWORD = "alice-password"


@dataclass
class Pasted:
    url: str
    servers: dict[str, str]  # "radicale" / "wrapper" -> its shell line
    env: dict[str, str]


def _substitute(text: str, tmp_path: Path, port: int) -> str:
    """The README's system paths become the test's own; its port a free one."""
    for system, own in (
        ("/etc/aurinko-bridge", tmp_path / "etc-bridge"),
        ("/var/lib/aurinko-bridge", tmp_path / "var"),
        ("/etc/radicale", tmp_path / "etc-radicale"),
    ):
        text = text.replace(system, str(own))
    return text.replace("127.0.0.1:5232", f"127.0.0.1:{port}")


@pytest.fixture
def pasted(tmp_path: Path) -> Pasted:
    found = blocks(SECTION)
    # Every block of the section is exercised here: one more needs its test.
    assert [b.lang for b in found] == ["toml", "sh", "ini", "sh", "sh"]
    toml, users, ini, radicale, wrapper = found
    port = reserved_port()
    for folder in ("etc-bridge", "etc-radicale"):
        (tmp_path / folder).mkdir()
    bridge_toml = tmp_path / "etc-bridge" / "bridge.toml"
    bridge_toml.write_text(_substitute(toml.text, tmp_path, port), encoding="utf-8")
    bridge_toml.chmod(0o600)
    (tmp_path / "etc-radicale" / "config").write_text(
        _substitute(ini.text, tmp_path, port), encoding="utf-8"
    )
    # `aurinko-bridge` and `python3` as a user's shell finds them: this environment's.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for line in commands(users):
        done = subprocess.run(
            ["bash", "-c", _substitute(line, tmp_path, port)],
            input=f"{PASSWORD}\n",
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    [radicale_line] = commands(radicale)
    [wrapper_line] = commands(wrapper)
    return Pasted(
        url=f"http://127.0.0.1:{port}",
        servers={
            "radicale": _substitute(radicale_line, tmp_path, port),
            "wrapper": _substitute(wrapper_line, tmp_path, port),
        },
        env=env,
    )


@contextmanager
def running(line: str, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        ["bash", "-c", line],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: stopped whole, shell and server
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert "Traceback" not in err, err


def _answers(client: httpx.Client, process: subprocess.Popen[str]) -> bool:
    if process.poll() is not None:
        assert process.stderr is not None
        raise AssertionError(f"the server stopped: {process.stderr.read()}")
    try:
        client.request("PROPFIND", "/", headers={"Depth": "0"})
    except httpx.TransportError:
        return False
    return True


def _check_logins(client: httpx.Client, process: subprocess.Popen[str]) -> None:
    eventually(lambda: _answers(client, process), timeout=60, what="the server answering")
    listing = client.request(
        "PROPFIND", "/alice/", headers={"Depth": "1"}, auth=("alice", PASSWORD)
    )
    assert listing.status_code == 207, listing.text
    assert client.request("PROPFIND", "/alice/", auth=("alice", "wrong")).status_code == 401
    assert client.request("PROPFIND", "/alice/").status_code == 401


def _put_without_fn(client: httpx.Client) -> int:
    """A card without FN into a new local book: Radicale alone refuses it, the wrapper not."""
    alice = httpx.Client(base_url=str(client.base_url), auth=("alice", PASSWORD), timeout=30)
    mkcol_book(alice, "/alice/local/")
    return alice.put(
        "/alice/local/no-fn.vcf", content=card("no-fn", None, "N:Doe;Jo;;;")
    ).status_code


def test_stock_radicale_runs_the_pasted_configuration(pasted: Pasted) -> None:
    with running(pasted.servers["radicale"], pasted.env) as process:
        client = httpx.Client(base_url=pasted.url, timeout=30)
        _check_logins(client, process)
        assert _put_without_fn(client) == 400  # what the wrapper is for


def test_the_wrapper_example_serves_the_same_configuration(pasted: Pasted) -> None:
    with running(pasted.servers["wrapper"], pasted.env) as process:
        client = httpx.Client(base_url=pasted.url, timeout=30)
        _check_logins(client, process)
        assert _put_without_fn(client) == 201
        got = client.get("/alice/local/no-fn.vcf", auth=("alice", PASSWORD))
        assert got.status_code == 200 and "N:Doe;Jo;;;" in got.text
