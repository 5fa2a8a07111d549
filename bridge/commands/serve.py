"""``aurinko-bridge serve``: the address-book server (the main job).

With ``--config`` it serves the configured accounts; without, the embedded demo: the local
sandbox seeded with the demo address book, one demo user, CardDAV on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import logging
import socket
import sys
from dataclasses import replace
from pathlib import Path

from .. import htpasswd, logs, webhooks
from ..config import Config, ConfigError
from ..console import fail, until_stopped
from ..demo import (
    DEMO_CLIENT_ID,
    DEMO_RETURN_URL,
    DEMO_USER,
    demo_client_secret_file,
    demo_password,
)
from ..front import CardDAV
from ..front.compose import compose
from ..front.server import FrontServer
from ..htpasswd import ensure_password
from ..operations import Operations
from ..runtime import open_engine
from ..store import Book, SchemaTooNewError, StoreError
from ..sync import SyncEngine
from ..webhooks import WebhookManager, url_prefix
from .common import add_config_arguments, configuration


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--port", type=int, help="CardDAV port (overrides the configuration)")


def _carddav(config: Config, engine: SyncEngine, key: str) -> CardDAV:
    """Radicale with the bridge's plugin. Imported here, by ``serve`` alone: ``bridge``
    never imports Radicale, and the commands that do not serve never load it."""
    from radicale_plugin.server import carddav_app

    return carddav_app(config, engine, key)


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
    _check_port(config)
    _warn_of_unreachable_books(config)
    operations = Operations.of(config)  # an unreadable metrics token: refused before start
    logs.configure(logging.getLogger().level, config.log_format)
    engine, books = open_engine(config, operations.observer)
    try:
        engine.start(config.interval)
        carddav = _carddav(config, engine, key)
        try:
            _run(config, engine, carddav, operations, list(books.values()), args)
        finally:
            carddav.close()
    finally:
        engine.close()
    return 0


def _run(
    config: Config,
    engine: SyncEngine,
    carddav: CardDAV,
    operations: Operations,
    books: list[Book],
    args: argparse.Namespace,
) -> None:
    """The front over ``carddav``, until stopped: it routes the status page, Aurinko's
    webhooks and WebDAV-Push, and hands everything else to CardDAV; the operators' doors
    (health, metrics) and request ids come before all of it."""
    front = compose(config, engine, carddav, counted=operations.push_counted)
    app = operations.front(front, engine, is_webhook=webhooks.handles)
    try:
        server = FrontServer(config, front, app=app)
    except OSError as exc:
        raise _listen_error(exc, config) from None
    with server:
        demo_dir = args.demo_dir if args.config is None else None
        hooks: WebhookManager | None = None
        try:
            with until_stopped():
                _announce(server.url, books, config, demo_dir=demo_dir)
                # Once the server answers: Aurinko checks the URL of each subscription.
                if config.webhooks:
                    hooks = WebhookManager(engine, config.webhooks)
                    if server.webhooks is not None:
                        server.webhooks.on_subscription_error = hooks.recheck
                        server.webhooks.on_subscription_active = hooks.recovered
                    hooks.start()
        finally:
            if hooks is not None:
                hooks.stop()


def _warn_of_unreachable_books(config: Config) -> None:
    """An account whose user is not in the users file is a book nobody can log in to (a
    typo, most often): said at start, with the closest user, rather than served silently.
    Not refused: users may be added while serve runs, and it sees them at once."""
    assert config.htpasswd is not None
    known = htpasswd.users(config.htpasswd)
    for account in config.accounts:
        if account.user in known:
            continue
        close = difflib.get_close_matches(account.user, known, n=1)
        hint = f' (did you mean user = "{close[0]}"?)' if close else ""
        print(
            f"aurinko-bridge: warning: account {account.user}/{account.name}: no user"
            f" {account.user} in {config.htpasswd}, so nobody can log in to this book{hint};"
            f" fix its user in {config.path} or add the user: aurinko-bridge user add"
            f" {account.user}",
            file=sys.stderr,
            flush=True,
        )


def _check_port(config: Config) -> None:
    """A taken port is refused before the first pull starts, not after it; the server's
    own bind (which could still lose a race) is checked alike."""
    if config.port == 0:
        return
    try:
        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # As the server binds: a port left in TIME_WAIT by a stopped server is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((config.host, config.port))
    except socket.gaierror:
        return  # a host name the server's own bind reports on
    except OSError as exc:
        raise _listen_error(exc, config) from None


def _listen_error(exc: OSError, config: Config) -> OSError:
    """Why the server cannot listen, with the address and what to do: 5232 is Radicale's
    default port too, so another server holding it is the common case."""
    address = f"{config.host}:{config.port}"
    if exc.errno == errno.EADDRINUSE:
        return OSError(
            f"cannot listen on {address}: another program already uses it (Radicale's default"
            f" port is 5232 too); stop it, or choose another port: --port {config.port + 1}"
            " (make serve PORT=...) or [server] port"
        )
    if exc.errno == errno.EACCES:
        return OSError(
            f"cannot listen on {address}: permission denied (ports below 1024 need"
            " privileges); choose another port with --port or [server] port"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return OSError(
            f"cannot listen on {address}: this machine has no such address ([server] host)"
        )
    return OSError(f"cannot listen on {address}: {exc.strerror or exc}")


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
            f" {demo_client_secret_file(demo_dir)}, return URL {DEMO_RETURN_URL}"
            " (to try `account add` against it)",
            flush=True,
        )
    print(f"  health check: {url}.bridge/health", flush=True)
    if config.metrics is not None:
        print(f"  metrics (bearer token from {config.metrics.token_file}): {url}.bridge/metrics")
    print("Press Ctrl-C to stop.", flush=True)
