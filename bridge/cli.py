"""``aurinko-bridge``: the command line."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from . import __version__, logs
from .commands import account, folder, serve, status, store, sync, user
from .commands.common import find_configuration
from .console import fail
from .sandbox import cli as sandbox_cli

Runner = Callable[[argparse.Namespace], int]
AddArguments = Callable[[argparse.ArgumentParser], None]

# name -> (add its arguments, run it, one-line help)
COMMANDS: dict[str, tuple[AddArguments, Runner, str]] = {
    "serve": (
        serve.add_arguments,
        serve.run,
        "run the CardDAV server (with no configuration: the embedded demo)",
    ),
    "sync": (sync.add_arguments, sync.run, "pull and push once and report what changed"),
    "export": (
        folder.add_export_arguments,
        folder.run_export,
        "write a book into a vCard folder (one .vcf per contact)",
    ),
    "import": (
        folder.add_import_arguments,
        folder.run_import,
        "import a vCard folder, file or multi-card file into a book",
    ),
    "watch": (
        folder.add_watch_arguments,
        folder.run_watch,
        "keep a vCard folder and a book in sync both ways until stopped",
    ),
    "status": (
        status.add_arguments,
        status.run,
        "show each book's sync state, waiting and parked writes and kept conflicts",
    ),
    "user": (
        user.add_arguments,
        user.run,
        "add, remove or list the CardDAV users, or change a password (the htpasswd file)",
    ),
    "account": (
        account.add_arguments,
        account.run,
        "link an Aurinko account (add), list the accounts or remove one (the configuration)",
    ),
    "store": (
        store.add_arguments,
        store.run,
        "copy the SQLite store into PostgreSQL (store copy --to URL)",
    ),
    "sandbox": (
        sandbox_cli.add_arguments,
        sandbox_cli.run,
        "run the local Aurinko-compatible Contacts API stand-in",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aurinko-bridge",
        description="Serve Aurinko contacts over CardDAV and keep them in sync.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (add_arguments, run, summary) in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        add_arguments(sub)
        sub.set_defaults(run=run)
    return parser


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING - 10 * verbosity
    logs.configure(max(level, logging.DEBUG))  # serve switches to [logging] format later


def main(argv: Sequence[str] | None = None) -> int:
    # Whatever the bridge writes holds contacts or secrets. Each writer makes its files
    # private itself (a library user never comes through here); this is the belt.
    os.umask(0o077)
    # `kill -USR1 PID` writes every thread's stack to stderr: what a command that seems
    # stuck is doing, without stopping it (also what the tests ask a hung command).
    if hasattr(signal, "SIGUSR1") and threading.current_thread() is threading.main_thread():
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    if hasattr(args, "config"):  # every command but `sandbox`
        find_configuration(args)
    run: Runner = args.run
    try:
        return run(args)
    except KeyboardInterrupt:  # Ctrl-C where a command does not catch it itself
        return fail("interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())
