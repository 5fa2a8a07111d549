"""The servers under test, each in its own process so its peak memory is its own."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

TOKEN = "benchmark-token-0123456789"
USER, PASSWORD = "bench", "bench-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the process's resident-memory high-water mark."""
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(match.group(1)) / 1024 if match else float("nan")


def cpu_seconds(pid: int) -> float:
    """User and system CPU the process has used so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_http(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.request("OPTIONS", url, timeout=2)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class Process:
    def __init__(
        self,
        args: list[str],
        url: str,
        log: Path,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, cwd=cwd, env=env
        )
        try:
            wait_http(url)
        except BaseException:
            self.stop()
            raise

    def peak_rss(self) -> float:
        return peak_rss_mib(self.proc.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


def start_sandbox(
    work: Path, seed: Path, *, latency: float = 0.0, tokens: list[str] | None = None
) -> Process:
    """The sandbox in its own process; ``seed`` goes to the first of ``tokens``' accounts
    (one account per token), and every /v1 request waits ``latency`` seconds first."""
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "bridge",
        "sandbox",
        "--port",
        str(port),
        "--db",
        str(work / "sandbox.sqlite3"),
        *(arg for token in tokens or [TOKEN] for arg in ("--token", token)),
        "--seed",
        str(seed),
        "--page-size",
        "500",
        "--latency",
        str(latency),
    ]
    return Process(args, f"http://127.0.0.1:{port}/v1", work / "sandbox.log")


def htpasswd(work: Path, users: Mapping[str, str] | None = None) -> Path:
    """``users`` (name -> password; the one benchmark user by default) in one file."""
    # The same cheap hash for both servers: the benchmark measures storage, not bcrypt.
    from bridge.htpasswd import set_password

    path = work / "users.htpasswd"
    for user, password in (users or {USER: PASSWORD}).items():
        set_password(path, user, password, rounds=4)
    return path


def bridge_config(
    work: Path, sandbox_url: str, *, port: int | None = None, freshness: int = 3600
) -> Path:
    token = work / "bench.token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    config = work / "bridge.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port or free_port()}\ndata_dir = "bridge-data"\n'
        f'htpasswd = "{htpasswd(work)}"\n\n'
        f"[sync]\ninterval = {min(freshness * 6, 3600)}\nfreshness = {freshness}\n\n"
        f'[[accounts]]\nname = "contacts"\nuser = "{USER}"\nbase_url = "{sandbox_url}"\n'
        'token_file = "bench.token"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    return config


def code_env(code: Path | None) -> dict[str, str] | None:
    """The environment that makes ``python -m bridge`` import the tree at ``code`` (a
    checkout of another revision) instead of the working tree the venv installs; None
    keeps the working tree. PYTHONPATH comes before the editable install's finder."""
    if code is None:
        return None
    return {**os.environ, "PYTHONPATH": str(code)}


def start_bridge(
    work: Path, config: Path, *, code: Path | None = None, name: str = "bridge"
) -> Process:
    """``serve`` in its own process, from the working tree or from the checkout ``code``."""
    port = int(re.search(r"port = (\d+)", config.read_text()).group(1))  # type: ignore[union-attr]
    args = [sys.executable, "-m", "bridge", "serve", "--config", str(config)]
    return Process(
        args, f"http://127.0.0.1:{port}/", work / f"{name}.log", cwd=code, env=code_env(code)
    )


def seed_radicale(work: Path, cards: dict[str, str]) -> Path:
    """A multifilesystem collection holding exactly the cards the bridge serves."""
    root = work / "radicale-data"
    book = root / "collection-root" / USER / "contacts"
    book.mkdir(parents=True)
    (book / ".Radicale.props").write_text(json.dumps({"tag": "VADDRESSBOOK"}))
    for href, text in cards.items():
        (book / href).write_text(text, encoding="utf-8", newline="")
    return root


def start_radicale(work: Path, root: Path) -> Process:
    port = free_port()
    config = work / "radicale.conf"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {htpasswd(work)}\n"
        "htpasswd_encryption = autodetect\ncache_logins = True\n\n"
        f"[storage]\nfilesystem_folder = {root}\n\n[web]\ntype = none\n\n"
        "[logging]\nlevel = warning\n",
        encoding="utf-8",
    )
    args = [sys.executable, "-m", "radicale", "--config", str(config)]
    return Process(args, f"http://127.0.0.1:{port}/", work / "radicale.log")
