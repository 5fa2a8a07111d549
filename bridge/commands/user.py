"""``aurinko-bridge user add|passwd|remove|list``: the CardDAV users (the htpasswd file of
``[server] htpasswd``, bcrypt hashes). A running ``serve`` sees a change at its next request.

The password is asked twice, without echo, on a terminal; otherwise it is the first line of
standard input (``printf '%s\\n' "$PW" | aurinko-bridge user add bob --config FILE``).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from .. import htpasswd
from ..config import ConfigError, load_config
from ..console import fail
from ..demo import DEMO_USER, demo_dir
from ..private import private_dir
from .common import add_config_arguments, announce_demo

_ACTIONS = {
    "add": "add a user (the password is asked, or read from standard input)",
    "passwd": "change a user's password (asked, or read from standard input)",
    "remove": "remove a user",
    "list": "list the users, one per line",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, summary in _ACTIONS.items():
        sub = actions.add_parser(action, help=summary, description=summary)
        if action != "list":
            sub.add_argument("name", metavar="NAME", help="the user name (as in /NAME/book/)")
        add_config_arguments(sub)


def run(args: argparse.Namespace) -> int:
    action: str = args.action
    try:
        path, accounts = _users_file(args, create=action == "add")
        if action == "list":
            for name in htpasswd.users(path):
                print(name, flush=True)
            return 0
        user = htpasswd.check_user(args.name)
        return _change(action, path, user, accounts, demo=args.config is None)
    except EOFError:
        return fail(f"user {action}: no password given")
    except (OSError, ValueError) as exc:  # ConfigError and UserError are ValueErrors
        return fail(f"user {action}: {exc}")


def _change(action: str, path: Path, user: str, accounts: set[str] | None, *, demo: bool) -> int:
    known = htpasswd.users(path)
    if action == "remove":
        if not htpasswd.remove_user(path, user):
            return fail(f"user remove: no user {user} in {path}")
        print(f"removed user {user} from {path}", flush=True)
        return 0
    # Refused before the password is asked; checked again under the file's lock.
    if action == "add":
        for other in known:
            if other.lower() == user.lower():  # one folder on case-insensitive file systems
                hint = (
                    f"; to change the password: aurinko-bridge user passwd {user}"
                    if other == user
                    else " (names differing only in case are one user here)"
                )
                return fail(f"user add: user {other} already exists in {path}{hint}")
    if action == "passwd" and user not in known:
        return fail(f"user passwd: no user {user} in {path} (to add: aurinko-bridge user add)")
    password = read_password()
    if action == "add":
        htpasswd.add_user(path, user, password)
        note = ""
        if accounts is not None and user not in accounts:
            note = f' (no [[accounts]] entry has user = "{user}" yet)'
        print(f"added user {user} to {path}{note}", flush=True)
    else:
        htpasswd.change_password(path, user, password)
        note = " (the demo sets it back at its next start)" if demo and user == DEMO_USER else ""
        print(f"changed the password of {user} in {path}{note}", flush=True)
    return 0


def _users_file(args: argparse.Namespace, *, create: bool) -> tuple[Path, set[str] | None]:
    """The htpasswd file and the configured accounts' users (None for the demo, whose
    file is found without starting its sandbox)."""
    if args.config is None:
        announce_demo(args)
        folder = demo_dir(args.demo_dir)
        return (private_dir(folder) if create else folder) / "users.htpasswd", None
    config = load_config(args.config)
    if config.htpasswd is None:
        raise ConfigError(
            f'{args.config}: [server] htpasswd is not set (add e.g. htpasswd = "users.htpasswd")'
        )
    return config.htpasswd, {account.user for account in config.accounts}


def read_password(
    stdin: TextIO | None = None, prompt: Callable[[str], str] = getpass.getpass
) -> str:
    """Asked twice without echo on a terminal; else standard input's first line (its line
    ending taken off, nothing else). Checked before it is returned."""
    stream = stdin or sys.stdin
    if stream.isatty():
        password = prompt("New password: ")
        htpasswd.check_password(password)
        if prompt("Again: ") != password:
            raise htpasswd.UserError("the passwords do not match")
        return password
    password = stream.readline().removesuffix("\n").removesuffix("\r")
    htpasswd.check_password(password)
    return password
