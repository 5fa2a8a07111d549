"""``aurinko-bridge export / import / watch``: the vCard folder side."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..config import Config, ConfigError
from ..console import Progress, fail, until_stopped
from ..folder import FolderMirror, FolderWatcher, WatchOptions, import_path
from ..runtime import key, open_engine
from ..store import Book, SchemaTooNewError, StoreError
from ..sync import SyncEngine
from ..sync.reports import words
from .common import add_config_arguments, configuration

_ERRORS = (ConfigError, SchemaTooNewError, StoreError, OSError)


def _add_common(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument(
        "--account",
        metavar="[USER/]NAME",
        help="the account (USER/ where two users have one name; default: the first)",
    )


@contextmanager
def _book(args: argparse.Namespace) -> Iterator[tuple[Config, SyncEngine, Book]]:
    with configuration(args) as config:
        if not config.accounts:
            raise ConfigError("the configuration has no [[accounts]]")
        account = config.account(args.account) if args.account else config.accounts[0]
        engine, books = open_engine(config)
        try:
            yield config, engine, books[key(account)]
        finally:
            engine.close()


# -- export ---------------------------------------------------------------------------


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, metavar="DIR", help="the folder (created if missing)")
    _add_common(parser)
    parser.add_argument(
        "--version",
        choices=("3.0", "4.0"),
        help="vCard version of the files (default: each card in its own)",
    )


def run_export(args: argparse.Namespace) -> int:
    try:
        with _book(args) as (_, engine, book):
            report = engine.sync(book)
            if report.error:
                print(f"note: exporting the local copy; Aurinko: {words(report.error)}", flush=True)
            exported = FolderMirror(engine, book, args.dir, args.version).export_all()
            print(f"{book.path} -> {args.dir}: {exported.summary()}", flush=True)
            return 0
    except _ERRORS as exc:
        return fail(f"export: {exc}")


# -- import ---------------------------------------------------------------------------


def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path", type=Path, metavar="PATH", help="a folder, a .vcf file or a multi-card .vcf"
    )
    _add_common(parser)


def run_import(args: argparse.Namespace) -> int:
    if not args.path.exists():
        return fail(f"import: {args.path} does not exist")
    try:
        with _book(args) as (_, engine, book):
            progress = Progress(f"{book.path}: imported")
            try:
                report = import_path(engine, book, args.path, progress)
            finally:
                progress.close()
            for line in report.invalid:
                print(f"  invalid: {line}", flush=True)
            for parked in report.parked:
                print(f"  refused by Aurinko: {words(parked)}", flush=True)
            if report.parked:
                print("  (aurinko-bridge status lists them; --retry or --drop them)")
            print(f"{args.path} -> {book.path}: {report.summary()}", flush=True)
            return 1 if report.invalid and not (report.created or report.updated) else 0
    except _ERRORS as exc:
        return fail(f"import: {exc}")


# -- watch ----------------------------------------------------------------------------


def add_watch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, metavar="DIR", help="the folder to keep in sync")
    _add_common(parser)
    parser.add_argument(
        "--version",
        choices=("3.0", "4.0"),
        help="vCard version of the files (default: each card in its own)",
    )
    parser.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="propagate the deletion of more than half the folder at once",
    )
    parser.add_argument(
        "--interval", type=float, help="seconds between pulls (default: [sync] interval)"
    )


def run_watch(args: argparse.Namespace) -> int:
    try:
        with _book(args) as (config, engine, book):
            options = WatchOptions(
                interval=args.interval or config.interval,
                allow_mass_delete=args.allow_mass_delete,
            )
            watcher = FolderWatcher(engine, book, args.dir, options, args.version)
            watcher.start()
            try:
                with until_stopped():
                    print(f"watching {args.dir} <-> {book.path}; Ctrl-C to stop", flush=True)
            finally:
                watcher.stop()
            return 0
    except _ERRORS as exc:
        return fail(f"watch: {exc}")
