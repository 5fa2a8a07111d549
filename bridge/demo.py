"""The embedded default: a seeded local sandbox and one demo account, no Aurinko needed."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .config import DEFAULT_CALLBACK_PORT, AccountConfig, Config
from .paths import DEMO_CONTACTS, default_data_dir
from .private import PRIVATE_FILE, private_dir

DEMO_USER = "demo"
DEMO_BOOK = "contacts"
DEMO_PORT = 5232
DEMO_CLIENT_ID = "aurinko-bridge-demo"  # the demo sandbox's own Aurinko application
# Its one registered return URL: where ``account add`` waits by default. Aurinko sends the
# browser nowhere else, and neither does the sandbox.
DEMO_RETURN_URL = f"http://127.0.0.1:{DEFAULT_CALLBACK_PORT}/callback"


def demo_dir(data_dir: Path | None = None) -> Path:
    return data_dir or default_data_dir() / "demo"


def _secret_file(path: Path) -> Path:
    """A random secret per demo directory, kept (private) across restarts."""
    try:  # 0600 from the first byte, not chmod-ed after the secret is in it
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_urlsafe(18) + "\n")
    path.chmod(PRIVATE_FILE)
    return path


def _private_root(data_dir: Path | None) -> Path:
    """The demo folder: its contacts, secrets and users are its owner's alone (0700)."""
    return private_dir(demo_dir(data_dir))


def demo_client_secret_file(data_dir: Path | None = None) -> Path:
    """The demo sandbox's application secret (created on first use), for trying
    ``account add`` against the demo's sandbox while ``serve`` runs."""
    return _secret_file(_private_root(data_dir) / "demo.client-secret")


def demo_password(data_dir: Path | None = None) -> str:
    """The demo CardDAV user's password (created on first use)."""
    root = _private_root(data_dir)
    return _secret_file(root / "demo.password").read_text(encoding="ascii").strip()


@contextmanager
def embedded_demo(data_dir: Path | None = None, port: int = DEMO_PORT) -> Iterator[Config]:
    """Run the sandbox on a free loopback port for as long as the block lasts; yield the
    demo config (CardDAV on ``port``, the user in ``<dir>/users.htpasswd``).

    Raises OSError when the data directory cannot be used.
    """
    # The sandbox is loaded for the demo alone: a configured server never runs it.
    from .sandbox import SandboxConfig, serve_in_thread

    root = _private_root(data_dir)
    token_file = _secret_file(root / "demo.token")
    sandbox = SandboxConfig(
        db_path=str(root / "sandbox.sqlite3"),
        tokens=[token_file.read_text(encoding="ascii").strip()],
        seed_path=str(DEMO_CONTACTS),
        client_id=DEMO_CLIENT_ID,
        client_secret=demo_client_secret_file(data_dir).read_text(encoding="ascii").strip(),
        return_urls=(DEMO_RETURN_URL,),
    )
    with serve_in_thread(sandbox) as running:
        account = AccountConfig(
            name=DEMO_BOOK,
            user=DEMO_USER,
            base_url=running.url,
            token_file=token_file,
            display_name="Demo contacts",
        )
        yield Config(
            data_dir=root / "bridge",
            host="127.0.0.1",
            port=port,
            htpasswd=root / "users.htpasswd",
            interval=60,
            freshness=5,
            accounts=[account],
        )
