"""``aurinko-bridge account add|relink|list|remove``: the configuration's Aurinko accounts.

``add`` links an account through the Aurinko application of ``[aurinko]``: the user
consents in a browser, Aurinko sends the browser back to a one-shot server on 127.0.0.1
with a code, and the code becomes the account's token, which goes into a private file
beside the configuration; the ``[[accounts]]`` table goes into the file itself (see
``bridge.configedit``). With ``--token-file`` it links a token the user already has.
``relink`` runs the same consent with the account's Aurinko ``accountId`` when its token
died, and replaces the token file; nothing else changes. Every failure leaves the
configuration and the token files as they were. The work is ``bridge.accounts``'s: this
module parses the arguments, calls it and prints what it returns.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import webbrowser
from collections.abc import Callable
from pathlib import Path

from .. import accounts
from ..accounts import Removed, Step, Verdict, config_folder, shown
from ..aurinko import AurinkoError
from ..config import AccountConfig, AurinkoApp, Config, ConfigError, load_config
from ..consent import RESTART, Interrupted, Linker, LinkFailed
from ..console import fail
from ..paths import CONFIG_NAME, user_config_file
from ..store import SchemaTooNewError, StoreError
from ..words import count

# -- arguments ----------------------------------------------------------------------------


def _service(text: str) -> str:
    """One of the providers with contacts; any other is refused with the reason."""
    try:
        return accounts.service_named(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is 0-65535 (0: a free one)")
    return value


def _config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help=f"the configuration file (default: ./{CONFIG_NAME}, else {user_config_file()})",
    )


def _consent_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-browser", action="store_true", help="only print the address to open; do not open it"
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="how long to wait for the consent (default: 300)",
    )
    parser.add_argument(
        "--callback-port",
        type=_port,
        metavar="PORT",
        help="port of the return address http://127.0.0.1:PORT/callback, registered in the"
        " Aurinko portal (default: [aurinko] callback_port, else 8765; 0: a free one)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser(
        "add",
        help="link an Aurinko account (browser consent, or --token-file) and add it",
        description="Link an Aurinko account and add it to the configuration as /USER/NAME/."
        " By default the account's owner consents in a browser through the Aurinko"
        " application of [aurinko]; with --token-file, a token you already have is checked"
        " and used.",
    )
    add.add_argument("name", metavar="NAME", help="the address book's name: /USER/NAME/")
    add.add_argument(
        "--service",
        type=_service,
        metavar="SERVICE",
        help="the provider to consent at: Google, Office365 (also Outlook.com) or EWS"
        " (Exchange): the ones with contacts",
    )
    add.add_argument(
        "--user",
        metavar="USER",
        help="the CardDAV user who sees the book (default: the htpasswd file's only user)",
    )
    _config_argument(add)
    add.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help="link the token in FILE (chmod 600) instead of asking for consent",
    )
    _consent_arguments(add)
    add.add_argument("--display-name", metavar="TEXT", help="the book's name in clients")
    add.set_defaults(action_run=_run_add)

    relink = actions.add_parser(
        "relink",
        help="renew a dead token in place: consent again for the same Aurinko account",
        description="Run the browser consent again for an account already configured, with"
        " its Aurinko accountId, and replace its token file with the new token. The book,"
        " its sync state and its queued writes stay; a running serve uses the new token at"
        " its next call. Use it when status says 'token dead'.",
    )
    relink.add_argument("name", metavar="[USER/]NAME", help="the account")
    relink.add_argument("--user", metavar="USER", help="the account's user (or say USER/NAME)")
    _config_argument(relink)
    relink.add_argument(
        "--service",
        type=_service,
        metavar="SERVICE",
        help="the provider to consent at (default: the one Aurinko names for the account)",
    )
    relink.add_argument(
        "--account-id",
        type=int,
        metavar="ID",
        help="the Aurinko account id (default: asked of Aurinko with the old token;"
        " account add printed it)",
    )
    _consent_arguments(relink)
    relink.set_defaults(action_run=_run_relink)

    listing = actions.add_parser(
        "list",
        help="the configured accounts and whether their tokens can be read",
        description="One line per account: USER/NAME, its Aurinko URL and its token's source.",
    )
    _config_argument(listing)
    listing.add_argument(
        "--check", action="store_true", help="also ask Aurinko whether each token still works"
    )
    listing.set_defaults(action_run=_run_list)

    remove = actions.add_parser(
        "remove",
        help="remove an account from the configuration",
        description="Remove an account's [[accounts]] table, and the token file that"
        " `account add` wrote for it. Its local copy stays in the store unless --purge; the"
        " account stays at Aurinko unless --revoke.",
    )
    remove.add_argument("name", metavar="[USER/]NAME", help="the account")
    remove.add_argument("--user", metavar="USER", help="the account's user (or say USER/NAME)")
    _config_argument(remove)
    remove.add_argument(
        "--purge",
        action="store_true",
        help="also delete the book's local copy (the store's rows, its kept conflicts)",
    )
    remove.add_argument(
        "--revoke",
        action="store_true",
        help="also delete the account at Aurinko (DELETE /v1/account), which ends its"
        " provider grant; without it the Aurinko account stays, for another link",
    )
    remove.set_defaults(action_run=_run_remove)


def run(args: argparse.Namespace) -> int:
    where = f"account {args.action}"
    if args.config is None:
        return fail(
            f"{where} needs --config FILE, or a ./{CONFIG_NAME} here (the embedded demo"
            " has no configuration file)"
        )
    action: Callable[[argparse.Namespace, Config], int] = args.action_run
    try:
        config = load_config(args.config)
        return action(args, config)
    except LinkFailed as exc:
        return fail(f"{where}: {exc}")
    except (ConfigError, SchemaTooNewError, StoreError, AurinkoError, sqlite3.Error) as exc:
        return fail(f"{where}: {exc}")
    except OSError as exc:
        return fail(f"{where}: {exc.filename or ''}{': ' if exc.filename else ''}{exc.strerror}")


# -- add ----------------------------------------------------------------------------------


def _run_add(args: argparse.Namespace, config: Config) -> int:
    assert config.path is not None
    user = args.user or accounts.only_user(config)
    name: str = args.name
    accounts.refuse_taken(config, user, name)
    if args.token_file is not None:
        linked = accounts.link_token(config, user, name, args.token_file, args.display_name)
        who = f" ({linked.who})" if linked.who else ""
        added = f"Added {user}/{name}{who} to {config.path}: token_file = {linked.token_file}"
        print(added, flush=True)
        print(f"Next: {RESTART}, to start syncing it.", flush=True)
        return 0
    linker = accounts.add_linker(config, user, name, args.service, args.display_name)
    assert config.aurinko is not None  # add_linker refuses a configuration without it
    return _consent(args, linker, config.aurinko, name, args.service)


def _consent(
    args: argparse.Namespace,
    linker: Linker,
    app: AurinkoApp,
    name: str,
    service: str,
    account_id: int | None = None,
) -> int:
    """Run the consent, showing its address, and say how it ended."""
    where = f"account {args.action}"
    port = app.callback_port if args.callback_port is None else int(args.callback_port)

    def show(url: str) -> None:
        print(f"Open this address to link {name}: {url}", flush=True)
        if not args.no_browser and _has_display():
            try:
                webbrowser.open(url)
            except Exception:  # the printed address is the way in anyway
                pass

    outcome = accounts.consent(
        linker,
        app,
        port=port,
        service=service,
        account_id=account_id,
        timeout=args.timeout,
        show=show,
    )
    if outcome is None:
        return fail(
            f"{where}: no answer from the browser within {args.timeout:g} s; nothing was changed"
        )
    if isinstance(outcome, Interrupted):
        return fail(f"{where}: interrupted; nothing was changed", 130)
    if outcome.error is not None:
        return fail(f"{where}: {outcome.error}")
    for line in outcome.report:
        print(line, flush=True)
    return 0


def _has_display() -> bool:
    """Whether a browser could show up: on Linux without a display, webbrowser would fall
    back to a text browser that takes over the terminal."""
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


# -- relink -------------------------------------------------------------------------------


def _run_relink(args: argparse.Namespace, config: Config) -> int:
    account = config.account(_selector(args))
    relink = accounts.relinker(config, account, args.account_id, args.service)
    assert config.aurinko is not None  # relinker refuses a configuration without it
    return _consent(
        args, relink.linker, config.aurinko, account.name, relink.service, relink.account_id
    )


def _selector(args: argparse.Namespace) -> str:
    selector: str = args.name
    if args.user:
        named_user, _, bare = selector.rpartition("/")
        if named_user and named_user != args.user:
            raise LinkFailed(f"{selector} and --user {args.user} name different users")
        selector = f"{args.user}/{bare}"
    return selector


# -- list ---------------------------------------------------------------------------------


def _run_list(args: argparse.Namespace, config: Config) -> int:
    if not config.accounts:
        print(f"No accounts in {config.path} (aurinko-bridge account add links one).", flush=True)
        return 0
    folder, failed = config_folder(config), 0
    for account in config.accounts:
        line, ok = _describe(account, folder, check=args.check)
        failed += not ok
        print(line, flush=True)
    if args.check and failed:
        checked = count(len(config.accounts), "account")
        return fail(f"account list: {failed} of {checked} failed the check")
    return 0


def _describe(account: AccountConfig, folder: Path, *, check: bool) -> tuple[str, bool]:
    if account.token_env is not None:
        source = f"${account.token_env}"
    else:
        assert account.token_file is not None
        source = shown(account.token_file, folder)
    token: str | None = None
    try:
        token = account.read_token()
        readable = "readable"
    except ConfigError as exc:
        readable = f"not readable: {str(exc).removeprefix(f'account {account.name}: ')}"
    line = f"{account.user}/{account.name}  {account.base_url}  token: {source} ({readable})"
    if not check:
        return line, token is not None
    if token is None:
        return f"{line}  check: not checked", False
    verdict, info = accounts.check_token(token, account.base_url)
    if verdict is Verdict.OK:
        return f"{line}  check: ok{f' ({info})' if info else ''}", True
    if verdict is Verdict.ERROR:
        return f"{line}  check: error ({info})", False
    return f"{line}  check: {verdict}", False


# -- remove -------------------------------------------------------------------------------


def _run_remove(args: argparse.Namespace, config: Config) -> int:
    selector = _selector(args)
    try:
        account = config.account(selector)
    except ConfigError:
        if not args.purge:
            raise
        print(_removed(accounts.purge_leftover(config, selector)))
        return 0
    for step in accounts.remove_account(config, account, purge=args.purge, revoke=args.revoke):
        print(_removed(step), flush=True)
    print(f"Next: {RESTART}, to stop serving {account.user}/{account.name}.", flush=True)
    return 0


# What each step of a removal says: ``what``, ``where`` and ``why`` are the record's.
_REMOVED = {
    Step.TABLE_REMOVED: "Removed [[accounts]] {what} from {where}.",
    Step.STORE_UNREADABLE: "Could not read the store to find its webhook subscription: {why}.",
    Step.COPY_DELETED: "Deleted its local copy (the book {what}) from the store.",
    Step.HOOK_TOKEN_UNREADABLE: "Could not delete its webhook subscription at Aurinko: {why}.",
    Step.HOOK_KEPT: "Could not delete its webhook subscription {what} at Aurinko ({why});"
    " delete it there, or it lapses when notifications keep failing.",
    Step.HOOK_DELETED: "Deleted its webhook subscription {what} at Aurinko.",
    Step.REVOKE_REFUSED: "Aurinko refused its token ({why}): the Aurinko account is deleted"
    " already, or can only be deleted in the Aurinko portal now.",
    Step.REVOKE_FAILED: "Could not delete the account at Aurinko ({why}); delete it in the"
    " Aurinko portal (or DELETE {where}/account with its token)",
    Step.REVOKED: "Deleted the account at Aurinko (DELETE /v1/account), and its provider grant.",
    Step.TOKEN_KEPT_TO_REVOKE: "Kept its token file {what}, to revoke the account with.",
    Step.TOKEN_DELETED: "Deleted its token file tokens/{what}.",
    Step.TOKEN_NOT_DELETED: "Could not delete its token file {what}: {why}.",
    Step.TOKEN_KEPT_NOT_OURS: "Kept its token file {what} (not written by account add).",
    Step.COPY_STAYS: "Its local copy stays in {where} (account remove --purge deletes it).",
    Step.NO_COPY: "It had no local copy in the store.",
    Step.CONFLICTS_DELETED: "Deleted its kept conflicts ({where}).",
    Step.LEFTOVER_PURGED: "Deleted the local copy of {what} (no longer configured) and its"
    " conflicts.",
}


def _removed(done: Removed) -> str:
    return _REMOVED[done.step].format(what=done.what, where=done.where, why=done.why)
