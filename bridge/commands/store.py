"""``aurinko-bridge store copy --to URL``: move an install from SQLite to PostgreSQL. The
configuration's SQLite store (in its ``data_dir``) is copied, every row, into an empty
PostgreSQL store; then a ``[store]`` section in the configuration makes every command use
it. Nothing may use the SQLite store meanwhile: a running serve or watch is refused."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import ConfigError, StoreConfig, load_config
from ..console import Progress, fail
from ..paths import CONFIG_NAME
from ..store import STORE_FILE, SchemaTooNewError, SQLiteDatabase, StoreError
from ..sync.locks import StoreInUseError, store_alone

# What each table holds, in the summary's words.
_WORDS = {
    "books": "address books",
    "contacts": "contacts",
    "changes": "change-log entries (clients' sync tokens stay valid)",
    "outbox": "queued writes",
    "conflicts": "conflicts",
    "folder_files": "watched-folder files",
    "folder_state": "watched-folder positions",
    "webhook_subscriptions": "webhook subscriptions",
    "push_subscriptions": "WebDAV-Push subscriptions",
    "meta": "settings (the store's id, the VAPID key)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    copy = actions.add_parser(
        "copy",
        help="copy the SQLite store into an empty PostgreSQL store",
        description="Copy every row of the configuration's SQLite store (books, contacts,"
        " queued writes, conflicts, sync state) into an empty PostgreSQL store, in one"
        " transaction. Stop serve and watch first. Then add the [store] section it prints"
        " to the configuration.",
    )
    copy.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help=f"the configuration whose store to copy (default: ./{CONFIG_NAME})",
    )
    copy.add_argument(
        "--to",
        required=True,
        metavar="URL",
        help="the PostgreSQL store, postgresql://user@host:port/db (no password in it)",
    )
    password = copy.add_mutually_exclusive_group()
    password.add_argument(
        "--password-file", type=Path, metavar="FILE", help="the database password (chmod 600)"
    )
    password.add_argument(
        "--password-env", metavar="NAME", help="an environment variable holding the password"
    )


def run(args: argparse.Namespace) -> int:
    if args.config is None:
        return fail("store copy: name the configuration whose store to copy: --config FILE")
    target = StoreConfig(
        url=args.to, password_file=args.password_file, password_env=args.password_env
    )
    try:
        config = load_config(args.config)
        if config.store is not None:
            return fail(
                f"store copy: the store of {args.config} is already PostgreSQL"
                f" ({config.store.url}); copy from a configuration without [store]"
            )
        source_file = config.data_dir / STORE_FILE
        if not source_file.is_file():
            return fail(
                f"store copy: no store in {config.data_dir} ({STORE_FILE}): nothing to copy"
            )
        with store_alone(config.data_dir):
            return _copy(source_file, target, args.config)
    except StoreInUseError as exc:
        return fail(f"store copy: {exc} (a serve, watch or sync): stop it first")
    except (ConfigError, SchemaTooNewError, StoreError, OSError) as exc:
        return fail(f"store copy: {exc}")


def _copy(source_file: Path, target: StoreConfig, config_file: Path) -> int:
    # psycopg is loaded only when a PostgreSQL store is asked for.
    from ..store.copy import copy_store
    from ..store.postgres import PostgresDatabase

    source = SQLiteDatabase(source_file)  # brought to this release's schema first
    try:
        destination = PostgresDatabase(target.url, target.read_password())
        progress = Progress("rows copied")
        try:
            copied = copy_store(source, destination, progress)
        finally:
            progress.close()
            destination.close()
    finally:
        source.close()
    print(f"Copied {source_file} to {target.url}:", flush=True)
    for table, rows in copied.rows.items():
        print(f"  {rows} {_WORDS[table]}")
    print(f"\nNow add to {config_file} (serve and every command then use PostgreSQL):\n")
    print("[store]")
    print(f'url = "{target.url}"')
    if target.password_file is not None:
        print(f'password_file = "{_relative(target.password_file, config_file)}"')
    elif target.password_env is not None:
        print(f'password_env = "{target.password_env}"')
    print(f"\nThe SQLite store stays in {source_file}, untouched from now on.", flush=True)
    return 0


def _relative(path: Path, config_file: Path) -> Path:
    """``path`` as the configuration reads it: relative to the file's folder when inside it."""
    absolute = path.resolve()
    try:
        return absolute.relative_to(config_file.resolve().parent)
    except ValueError:
        return absolute
