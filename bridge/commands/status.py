"""``aurinko-bridge status``: each book's sync state, its waiting and parked writes, and
its kept conflicts, read from the store alone (no call to Aurinko); ``--retry`` and
``--drop`` act on a parked write."""

from __future__ import annotations

import argparse
import time

from ..config import ConfigError
from ..console import fail
from ..store import Book, SchemaTooNewError
from ..sync import SyncEngine
from .common import add_config_arguments, configuration


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    actions = parser.add_mutually_exclusive_group()
    actions.add_argument(
        "--retry", type=int, metavar="ID", help="send the parked write ID again at the next sync"
    )
    actions.add_argument(
        "--drop", type=int, metavar="ID", help="give up the parked write ID (the card stays)"
    )


def run(args: argparse.Namespace) -> int:
    try:
        with configuration(args) as config:
            engine = SyncEngine(config.data_dir)  # the store only: no account is contacted
            try:
                if args.retry is not None or args.drop is not None:
                    return _act(engine, args.retry, args.drop)
                for book in engine.store.list_books():
                    _show(engine, book)
                return 0
            finally:
                engine.close()
    except (ConfigError, SchemaTooNewError, OSError) as exc:
        return fail(f"status: {exc}")


def _act(engine: SyncEngine, retry: int | None, drop: int | None) -> int:
    op_id = retry if retry is not None else drop
    assert op_id is not None
    op = engine.outbox.get(op_id)
    if op is None or not op.failed:
        return fail(f"status: no parked write #{op_id} (see aurinko-bridge status)")
    if retry is not None:
        engine.outbox.retry(op_id)
        print(f"#{op_id} ({op.op} {op.href}) will be sent again at the next sync", flush=True)
    else:
        engine.outbox.drop(op_id)
        print(f"#{op_id} ({op.op} {op.href}) dropped; the card keeps its version", flush=True)
    return 0


def _show(engine: SyncEngine, book: Book) -> None:
    pulled = "never" if book.last_pull is None else _ago(book.last_pull)
    pending, parked = engine.outbox.pending(book.id), engine.outbox.failed(book.id)
    conflicts = engine.outbox.conflicts(book.id)
    print(
        f"{book.path} ({book.kind}): last pull {pulled}; {len(pending)} writes waiting,"
        f" {len(parked)} parked, {len(conflicts)} conflicts kept",
        flush=True,
    )
    for op in pending:
        if op.last_error:
            print(f"  waiting #{op.id} {op.op} {op.href} ({op.attempts} tries): {op.last_error}")
    for op in parked:
        print(f"  parked #{op.id} {op.op} {op.href}: {op.last_error}")
        print(f"    retry: aurinko-bridge status --retry {op.id}; drop: --drop {op.id}")
    for conflict in conflicts[-5:]:
        print(f"  conflict {conflict.href} ({conflict.outcome}) {_ago(conflict.created)}")


def _ago(when: float) -> str:
    seconds = max(0, int(time.time() - when))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(when))
