"""README, "Troubleshooting": the messages it quotes are the ones the commands print. Each
mistake is made for real (a taken port, no users file, a token file others can read, a
typo, a wrong type, PostgreSQL not listening) and the command's stderr, with this test's
paths and ports put back to the README's, is found in the section as written."""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest

from bridge.htpasswd import set_password
from tests.cli.serving import BRIDGE
from tests.ports import reserved_port
from tests.readme import section

README_FOLDER = "/home/alice/bridge"


def _flat(text: str) -> str:
    """Line breaks and backticks of the README's wrapped quotes left out."""
    return " ".join(text.replace("`", "").split())


SECTION = _flat(section("Troubleshooting"))


def _folder(tmp_path: Path, server: str = "", users: bool = True, extra: str = "") -> Path:
    (tmp_path / "work.token").write_text("a-token\n")
    (tmp_path / "work.token").chmod(0o600)
    if users:
        set_password(tmp_path / "users.htpasswd", "alice", "alice-pw", rounds=4)
    config = tmp_path / "bridge.toml"
    config.write_text(
        f'[server]\ndata_dir = "var"\nhtpasswd = "users.htpasswd"\n{server}\n'
        '[[accounts]]\nname = "work"\nuser = "alice"\nbase_url = "http://127.0.0.1:1/v1"\n'
        f'token_file = "work.token"\n{extra}',
        encoding="utf-8",
    )
    config.chmod(0o600)
    return tmp_path


def _serve(folder: Path, *extra: str) -> str:
    """serve's one-line refusal, as the README writes it (its folder for the test's)."""
    done = subprocess.run(
        [*BRIDGE, "serve", "--config", "bridge.toml", *extra],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    return _flat(done.stderr.replace(str(folder), README_FOLDER))


def test_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        said = _serve(_folder(tmp_path, server=f"port = {port}\n"))
    said = said.replace(f"--port {port + 1}", "--port 5233").replace(str(port), "5232")
    assert said in SECTION


def test_no_users_yet(tmp_path: Path) -> None:
    assert _serve(_folder(tmp_path, users=False)) in SECTION


def test_a_token_file_others_can_read(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "work.token").chmod(0o644)
    assert _serve(folder) in SECTION


@pytest.mark.parametrize(
    ("server", "extra"),
    [("", "\n[sever]\nport = 5233\n"), ('port = "5232"\n', "")],
    ids=["unknown-section", "wrong-type"],
)
def test_a_mistake_in_the_configuration(tmp_path: Path, server: str, extra: str) -> None:
    said = _serve(_folder(tmp_path, server=server, extra=extra))
    # The wrong type is quoted without the command's prefix.
    assert said.removeprefix("aurinko-bridge: serve: ") in SECTION


def test_postgresql_not_listening(tmp_path: Path) -> None:
    port = reserved_port()
    url = f"postgresql://bridge@127.0.0.1:{port}/bridge"
    said = _serve(_folder(tmp_path, extra=f'\n[store]\nurl = "{url}"\n'))
    said = said.replace(url, "postgresql://bridge@db.example.org:5432/bridge")
    # The README leaves out libpq's address details ("..."): its pieces, in order.
    quoted = re.search(r"10\. \*\*PostgreSQL unreachable:\*\* (.*?) \(or", SECTION)
    assert quoted is not None
    pieces = [p.strip() for p in quoted.group(1).split("...")]
    position = 0
    for piece in pieces:
        found = said.find(piece, position)
        assert found >= 0, (piece, said)
        position = found + len(piece)
