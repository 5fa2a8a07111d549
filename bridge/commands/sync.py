"""``aurinko-bridge sync``: one full pull+push cycle per account, with a report."""

from __future__ import annotations

import argparse

from ..config import ConfigError
from ..console import Progress, fail
from ..runtime import key, open_engine
from ..store import Book, SchemaTooNewError, StoreError
from ..sync import SyncEngine
from ..sync.reports import words
from .common import add_config_arguments, configuration


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument(
        "--account",
        metavar="[USER/]NAME",
        help="only this account (USER/ where two users have one name; default: all)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        with configuration(args) as config:
            accounts = [config.account(args.account)] if args.account else config.accounts
            if not accounts:
                return fail("sync: the configuration has no [[accounts]]")
            engine, books = open_engine(config)
            try:
                return _sync_all(engine, [books[key(a)] for a in accounts])
            finally:
                engine.close()
    except (ConfigError, SchemaTooNewError, StoreError, OSError) as exc:
        return fail(f"sync: {exc}")


def _sync_all(engine: SyncEngine, books: list[Book]) -> int:
    status = 0
    for book in books:
        if engine.synced_elsewhere(book):
            print(f"{book.path}: synced by another bridge instance; asked it to sync now")
            continue
        progress = Progress(f"{book.path}: pulled")
        try:
            report = engine.sync(book, progress=progress)
        finally:
            progress.close()
        print(report.summary(), flush=True)
        for skipped in report.skipped:
            print(f"  skipped {words(skipped)}", flush=True)
        if report.skipped:
            print("  (aurinko-bridge status lists parked writes; --retry or --drop them)")
        for conflict in report.conflicts:
            print(f"  conflict: the losing version is kept at {words(conflict)}", flush=True)
        if report.error:
            status = fail(f"sync of {book.path} stopped: {words(report.error)}")
    return status
