"""``aurinko-bridge account add|relink|list|remove``: the configuration's Aurinko accounts.

``add`` links an account through the Aurinko application of ``[aurinko]``: the user
consents in a browser, Aurinko sends the browser back to a one-shot server on 127.0.0.1
with a code, and the code becomes the account's token, which goes into a private file
beside the configuration; the ``[[accounts]]`` table goes into the file itself (see
``bridge.configedit``). With ``--token-file`` it links a token the user already has.
``relink`` runs the same consent with the account's Aurinko ``accountId`` when its token
died, and replaces the token file; nothing else changes. Every failure leaves the
configuration and the token files as they were.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path

from .. import accounts, configedit, htpasswd
from ..accounts import CHECK_TIMEOUT, Removed, Step, config_folder
from ..accounts import shown as _shown
from ..aurinko import (
    DEFAULT_BASE_URL,
    NO_RETRY,
    AurinkoClient,
    AurinkoError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
)
from ..aurinko.oauth import CONTACT_SERVICES, SERVICE_TYPES, authorize_url, check_authorize
from ..config import AccountConfig, AurinkoApp, Config, ConfigError, _check_private, load_config
from ..consent import (
    RESTART,
    CallbackServer,
    Interrupted,
    Linker,
    LinkFailed,
    Relinker,
    wait_for_outcome,
)
from ..console import fail
from ..paths import CONFIG_NAME, user_config_file
from ..store import SchemaTooNewError, StoreError, store_exists
from ..sync import SyncEngine
from ..words import count

# -- arguments ----------------------------------------------------------------------------


def _service(text: str) -> str:
    """One of the providers with contacts; any other is refused with the reason."""
    for service in CONTACT_SERVICES:
        if service.lower() == text.lower():
            return service
    offered = f"contacts come from {', '.join(CONTACT_SERVICES)}"
    if any(service.lower() == text.lower() for service in SERVICE_TYPES):
        raise argparse.ArgumentTypeError(
            f"{text} has no contacts in Aurinko's Contacts API ({offered};"
            " Outlook.com is Office365)"
        )
    raise argparse.ArgumentTypeError(f"unknown service {text!r} ({offered})")


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
    user = args.user or _only_user(config)
    name: str = args.name
    for account in config.accounts:
        if (account.user.lower(), account.name.lower()) == (user.lower(), name.lower()):
            raise LinkFailed(
                f"{account.user}/{account.name} is already in {config.path}"
                " (account remove takes it out)"
            )
    _refuse_old_copy(config, user, name)
    if args.token_file is not None:
        return _add_with_token(args, config, user, name)
    return _add_with_consent(args, config, user, name)


def _refuse_old_copy(config: Config, user: str, name: str) -> None:
    """A book kept by ``account remove`` holds another account's contacts, ids and sync
    tokens: linking a new account under its name would sync the two into each other."""
    if not store_exists(config.data_dir, config.store):
        return
    engine = SyncEngine(config.data_dir, store=config.store)
    try:
        book = engine.store.get_book(user, name)
    finally:
        engine.close()
    if book is not None:
        raise LinkFailed(
            f"{user}/{name} still has the local copy of an earlier account in"
            f" {config.data_dir}; delete it with: aurinko-bridge account remove {user}/{name}"
            " --purge, or choose another name"
        )


def _only_user(config: Config) -> str:
    found = htpasswd.users(config.htpasswd) if config.htpasswd is not None else []
    if len(found) == 1:
        return found[0]
    if not found:
        raise LinkFailed("say whose book it is with --user USER (no users in [server] htpasswd)")
    raise LinkFailed(f"say whose book it is with --user USER (one of: {', '.join(found)})")


def _entry(
    config: Config, user: str, name: str, base_url: str, token_file: str, display: str | None
) -> dict[str, str]:
    """The new ``[[accounts]]`` table, refused (ConfigError) if the file would not take it."""
    entry = {"name": name, "user": user, "base_url": base_url, "token_file": token_file}
    if display:
        entry["display_name"] = display
    assert config.path is not None
    text = config.path.read_text(encoding="utf-8")
    configedit.add_account_text(text, entry, config.path)  # a dry run, before anything else
    return entry


def _add_with_token(args: argparse.Namespace, config: Config, user: str, name: str) -> int:
    assert config.path is not None
    source: Path = args.token_file
    _check_private(source, "token file")
    try:
        token = source.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise LinkFailed(f"cannot read token file {source}: {reason}") from None
    if not token:
        raise LinkFailed(f"token file {source} is empty")
    base_url = config.aurinko.base_url if config.aurinko is not None else DEFAULT_BASE_URL
    shown = _shown(source, config_folder(config))
    entry = _entry(config, user, name, base_url, shown, args.display_name)
    verdict, info = _check_token(token, base_url)
    if verdict != "ok":
        problem = {
            "refused": "the token was refused by Aurinko",
            "unreachable": f"Aurinko is unreachable at {base_url}",
        }.get(verdict, "the token could not be checked")
        raise LinkFailed(f"{problem} ({info}); {config.path} was not changed")
    configedit.add_account(config.path, entry)
    who = f" ({info})" if info else ""
    print(f"Added {user}/{name}{who} to {config.path}: token_file = {shown}", flush=True)
    print(f"Next: {RESTART}, to start syncing it.", flush=True)
    return 0


def _check_token(token: str, base_url: str) -> tuple[str, str]:
    """What ``GET /account`` says of the token, in one try: ("ok", who the account is),
    or "refused", "unreachable" or "error" with the error's words."""
    try:
        with AurinkoClient(token, base_url, timeout=CHECK_TIMEOUT, retry=NO_RETRY) as client:
            info = client.account()
    except UnauthorizedError as exc:
        return "refused", str(exc)
    except (UnavailableError, RateLimitedError) as exc:
        return "unreachable", str(exc)
    except AurinkoError as exc:
        return "error", str(exc)
    service = f"[{info.service_type}]" if info.service_type else None
    return "ok", " ".join(x for x in (info.email, service) if x)


def _add_with_consent(args: argparse.Namespace, config: Config, user: str, name: str) -> int:
    app = config.aurinko
    if app is None or not app.client_id:
        raise LinkFailed(
            f"set [aurinko] client_id (and client_secret_file) in {config.path} to link"
            " accounts through your Aurinko application, or link a token with --token-file"
        )
    if args.service is None:
        raise LinkFailed(f"say which provider with --service ({', '.join(CONTACT_SERVICES)})")
    token_file = f"tokens/{user}.{name}.token"
    entry = _entry(config, user, name, app.base_url, token_file, args.display_name)
    token_path = config_folder(config) / "tokens" / f"{user}.{name}.token"
    if os.path.lexists(token_path):
        raise LinkFailed(f"{token_path} already exists; move it away first")
    secret = app.read_secret()
    linker = Linker(
        config=config, app=app, secret=secret, entry=entry, token_path=token_path, user=user
    )
    return _listen_and_consent(args, linker, app, name, args.service)


def _listen_and_consent(
    args: argparse.Namespace,
    linker: Linker,
    app: AurinkoApp,
    name: str,
    service: str,
    account_id: int | None = None,
) -> int:
    port = _callback_port(args, app)
    try:
        server = CallbackServer(("127.0.0.1", port), linker)
    except OSError as exc:
        raise LinkFailed(
            f"cannot listen on 127.0.0.1:{port} for the callback: {exc.strerror}"
        ) from None
    try:
        return _consent(args, server, linker, app, name, service, account_id)
    finally:
        server.server_close()


def _consent(
    args: argparse.Namespace,
    server: CallbackServer,
    linker: Linker,
    app: AurinkoApp,
    name: str,
    service: str,
    account_id: int | None,
) -> int:
    assert app.client_id is not None
    where = f"account {args.action}"
    return_url = f"http://127.0.0.1:{server.server_port}/callback"
    url = authorize_url(
        app.base_url, app.client_id, service, return_url, linker.state, account_id=account_id
    )
    refused = _authorize_refused(url, return_url, app, _callback_port(args, app) == 0)
    if refused is not None:
        return fail(f"{where}: {refused}")
    thread = threading.Thread(target=server.serve_forever, name="account-callback", daemon=True)
    thread.start()
    try:
        print(f"Open this address to link {name}: {url}", flush=True)
        if not args.no_browser and _has_display():
            try:
                webbrowser.open(url)
            except Exception:  # the printed address is the way in anyway
                pass
        outcome = wait_for_outcome(linker, args.timeout)
    finally:
        server.shutdown()
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


def _callback_port(args: argparse.Namespace, app: AurinkoApp) -> int:
    return app.callback_port if args.callback_port is None else int(args.callback_port)


def _authorize_refused(url: str, return_url: str, app: AurinkoApp, free_port: bool) -> str | None:
    """Why Aurinko refuses the consent address outright (one line for stderr), or None.

    Aurinko sends the browser only to return URLs registered for the application (OAS
    ``returnUrl``: "It must be registered on the settings page in Aurinko portal"); a
    refusal would otherwise be a page in the browser while this command waits in vain.
    """
    try:
        check_authorize(url)
    except UnavailableError as exc:
        return f"Aurinko cannot be reached at {app.base_url} ({exc}); nothing was changed"
    except AurinkoError as exc:
        portal = f"as a return URL of application {app.client_id} in the Aurinko portal"
        if free_port:
            fix = (
                "callback_port 0 takes a free port each time, which cannot be registered: set"
                " [aurinko] callback_port (or --callback-port) to a port and register"
                f" http://127.0.0.1:<that port>/callback {portal}"
            )
        else:
            fix = (
                f"{return_url} must be registered {portal} (its settings page), or"
                " [aurinko] callback_port / --callback-port must name a registered one's port"
            )
        return f"Aurinko refused the consent address ({exc}); nothing was changed. {fix}"
    return None


def _has_display() -> bool:
    """Whether a browser could show up: on Linux without a display, webbrowser would fall
    back to a text browser that takes over the terminal."""
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


# -- relink -------------------------------------------------------------------------------


def _run_relink(args: argparse.Namespace, config: Config) -> int:
    account = config.account(_selector(args))
    label = f"{account.user}/{account.name}"
    app = config.aurinko
    if app is None or not app.client_id:
        raise LinkFailed(
            f"set [aurinko] client_id (and client_secret_file) in {config.path}: relink runs"
            " the consent through your Aurinko application"
        )
    if account.token_file is None:
        raise LinkFailed(
            f"{label} takes its token from ${account.token_env}; relink writes a token file:"
            " set token_file for it, or put a new token in the variable yourself"
        )
    account_id, service = _relink_target(account, args.account_id, args.service)
    secret = app.read_secret()
    shown = _shown(account.token_file, config_folder(config))
    linker = Relinker(
        account_id=account_id,
        config=config,
        app=app,
        secret=secret,
        entry={"name": account.name, "token_file": shown},
        token_path=account.token_file,
        user=account.user,
    )
    return _listen_and_consent(args, linker, app, account.name, service, account_id)


def _selector(args: argparse.Namespace) -> str:
    selector: str = args.name
    if args.user:
        named_user, _, bare = selector.rpartition("/")
        if named_user and named_user != args.user:
            raise LinkFailed(f"{selector} and --user {args.user} name different users")
        selector = f"{args.user}/{bare}"
    return selector


def _relink_target(
    account: AccountConfig, account_id: int | None, service: str | None
) -> tuple[int, str]:
    """The Aurinko account to re-authorize and its provider: as given, else as Aurinko
    describes the account. With a dead grant Aurinko still answers ``GET /account`` (its
    ``tokenStatus`` says ``dead``): it refuses only calls that need the provider."""
    if account_id is not None and service is not None:
        return account_id, service
    label = f"{account.user}/{account.name}"
    try:
        token = account.read_token()
        with AurinkoClient(
            token, account.base_url, timeout=CHECK_TIMEOUT, retry=NO_RETRY
        ) as client:
            info = client.account()
    except (ConfigError, AurinkoError) as exc:
        raise LinkFailed(
            f"cannot ask Aurinko which account {label} is ({exc}); give --account-id ID (account"
            " add printed it: 'Aurinko account ID') and --service"
        ) from None
    found_id = account_id if account_id is not None else info.id
    found_service = service or info.service_type
    if found_id is None or found_service is None:
        raise LinkFailed(
            f"Aurinko did not say which account {label} is; give --account-id ID and --service"
        )
    try:
        return found_id, _service(found_service)
    except argparse.ArgumentTypeError as exc:
        raise LinkFailed(f"{exc}; give --service") from None


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
        source = _shown(account.token_file, folder)
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
    verdict, info = _check_token(token, account.base_url)
    if verdict == "ok":
        return f"{line}  check: ok{f' ({info})' if info else ''}", True
    if verdict == "error":
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
