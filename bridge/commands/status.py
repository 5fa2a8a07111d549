"""``aurinko-bridge status``: per book, its account and user, when it last pulled and
pushed, how many contacts it holds, what waits in the outbox, which writes Aurinko refused
(parked) and why, which conflicts were kept and where the losing cards are, and whether
the account's token still works. ``--json`` prints the same as JSON; ``--retry`` and
``--drop`` act on a parked write."""

from __future__ import annotations

import argparse
import json
import sys

from ..config import ConfigError
from ..console import fail
from ..status import BookStatus, age, as_json, collect, held_words, token_words
from ..store import SchemaTooNewError, StoreError
from ..sync import SyncEngine
from ..words import count
from .common import add_config_arguments, configuration


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the status as JSON")
    parser.add_argument(
        "--offline", action="store_true", help="do not ask Aurinko whether the tokens work"
    )
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
            # The store only: nothing is synced.
            engine = SyncEngine(config.data_dir, store=config.store)
            try:
                if args.retry is not None or args.drop is not None:
                    return _act(engine, args.retry, args.drop)
                statuses = collect(engine, config, check_tokens=not args.offline)
            finally:
                engine.close()
    except (ConfigError, SchemaTooNewError, StoreError, OSError) as exc:
        return fail(f"status: {exc}")
    if args.json:
        json.dump(as_json(statuses), sys.stdout, indent=2)
        print(flush=True)
    else:
        for status in statuses:
            _show(status)
    return 0


def _act(engine: SyncEngine, retry: int | None, drop: int | None) -> int:
    op_id = retry if retry is not None else drop
    assert op_id is not None
    op = engine.outbox.get(op_id)
    book = engine.store.book_by_id(op.book_id) if op is not None else None
    act = engine.retry_parked if retry is not None else engine.drop_parked
    if op is None or book is None or not act(book, op_id):
        return fail(f"status: no parked write #{op_id} (see aurinko-bridge status)")
    if retry is not None:
        print(f"#{op_id} ({op.op} {op.href}) will be sent again at the next sync", flush=True)
    else:
        print(f"#{op_id} ({op.op} {op.href}) dropped; the card keeps its version", flush=True)
    return 0


def _show(status: BookStatus) -> None:
    print(f"{status.path} ({status.kind})", flush=True)
    if status.account is not None:
        token = token_words(status)
        detail = f" ({status.token.detail})" if status.token.detail else ""
        print(f"  account: {status.account}; user: {status.owner}; {token}{detail}")
    print(f"  last pull: {age(status.last_pull)}; last push: {age(status.last_push)}")
    print(
        f"  {count(status.contacts, 'contact')}; {count(status.waiting, 'write waiting')},"
        f" {len(status.parked)} parked, {count(len(status.conflicts), 'conflict kept')}"
    )
    for op in status.parked:
        print(f"  parked #{op.id} {op.op} {op.href}: {op.reason}")
        print(f"    retry: aurinko-bridge status --retry {op.id}; drop: --drop {op.id}")
    for held in status.held:
        print(f"  {held.href}: {held_words(held)}")
    for conflict in status.conflicts:
        when = age(conflict.created)
        print(f"  conflict #{conflict.id} {conflict.href} ({conflict.outcome}), {when}")
        print(f"    losing version: {conflict.path or 'kept in the store'}")
    sys.stdout.flush()
