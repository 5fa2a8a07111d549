"""``aurinko-bridge serve``: the address-book server (the main job).

With ``--config`` it serves the configured accounts; without, the embedded demo: the local
sandbox seeded with the demo address book, one demo user, CardDAV on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..config import Config, ConfigError
from ..console import fail, wait_for_signal
from ..demo import DEMO_CLIENT_ID, DEMO_USER, demo_client_secret_file, demo_password
from ..htpasswd import ensure_password
from ..runtime import open_engine
from ..store import Book, SchemaTooNewError, StoreError
from ..webhooks import WebhookManager, url_prefix
from .common import add_config_arguments, configuration


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--port", type=int, help="CardDAV port (overrides the configuration)")


def _frontend(module: str) -> Any:
    # The CardDAV front end is Radicale, which the core never imports: loaded by name.
    return importlib.import_module(f"radicale_plugin.{module}")


def run(args: argparse.Namespace) -> int:
    try:
        with configuration(args) as config:
            if args.port is not None:
                config = replace(config, port=args.port)
            if args.config is None:
                assert config.htpasswd is not None  # the demo always has its users' file
                # Hashed again only when the stored hash does not verify the password.
                ensure_password(config.htpasswd, DEMO_USER, demo_password(args.demo_dir))
            return _serve(config, str(args.config or f"embedded:{config.data_dir}"), args)
    except (ConfigError, SchemaTooNewError, StoreError, ValueError, OSError) as exc:
        return fail(f"serve: {exc}")


def _serve(config: Config, key: str, args: argparse.Namespace) -> int:
    _check_users(config, args.config)
    if config.webhooks is not None:
        config.webhooks.read_secret()  # unreadable: refused before anything starts
    engine, books = open_engine(config)
    try:
        engine.start(config.interval)
        with _frontend("server").RunningServer(config, engine, key) as server:
            demo_dir = args.demo_dir if args.config is None else None
            _announce(server.url, list(books.values()), config, demo_dir=demo_dir)
            # Started once the server answers: Aurinko checks the URL of each subscription.
            hooks = WebhookManager(engine, config.webhooks) if config.webhooks else None
            if hooks is not None:
                if server.webhooks is not None:
                    server.webhooks.on_subscription_error = hooks.recheck
                hooks.start()
            try:
                wait_for_signal()
            finally:
                if hooks is not None:
                    hooks.stop()
    finally:
        engine.close()
    return 0


def _check_users(config: Config, path: Path | None) -> None:
    """Authentication is always on: no users file means nobody could log in."""
    if config.htpasswd is None:
        raise ConfigError(f"{path}: [server] htpasswd is required (the CardDAV users' file)")
    if not config.htpasswd.exists():
        raise ConfigError(
            f"no CardDAV users yet ({config.htpasswd} does not exist); create one with:"
            f" aurinko-bridge user add NAME --config {path}"
        )


def _announce(url: str, books: list[Book], config: Config, *, demo_dir: Path | None) -> None:
    """What to connect to; with the embedded demo (a configuration without a file), its
    user and its sandbox too."""
    demo = config.path is None
    sandbox_url = config.accounts[0].base_url if demo and config.accounts else ""
    print(f"CardDAV server at {url}", flush=True)
    for book in books:
        print(f"  address book {book.name}: {url}{book.owner}/{book.name}/", flush=True)
    print(f"  status page: {url}.bridge/", flush=True)
    if config.webhooks is not None:
        print(f"  Aurinko webhooks: {url_prefix(config.webhooks)}...", flush=True)
    if demo:
        print(f"  user: {DEMO_USER}  password: {demo_password(demo_dir)}", flush=True)
        print(
            f"  Aurinko sandbox at {sandbox_url}: application {DEMO_CLIENT_ID}, secret in"
            f" {demo_client_secret_file(demo_dir)} (to try `account add` against it)",
            flush=True,
        )
    print("Press Ctrl-C to stop.", flush=True)
