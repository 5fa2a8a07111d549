"""Linking an account: the checks before anything is written, a token the user has linked
after Aurinko accepts it, and the consent flow (the one-shot callback server of
``bridge.consent`` listening while the browser consents at Aurinko). ``relink`` runs the
same consent with the account's Aurinko ``accountId`` and replaces its token file.

Every failure raises LinkFailed (one line for stderr) and leaves the configuration and the
token files as they were; ``bridge.commands.account`` prints what these return."""

from __future__ import annotations

import enum
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import configedit, htpasswd
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
from ..config import AccountConfig, AurinkoApp, Config, ConfigError, _check_private
from ..consent import (
    CallbackServer,
    Interrupted,
    Linker,
    LinkFailed,
    Outcome,
    Relinker,
    wait_for_outcome,
)
from ..store import store_exists
from ..sync import SyncEngine
from .common import CHECK_TIMEOUT, config_folder, shown


def service_named(text: str) -> str:
    """One of the providers with contacts, as Aurinko spells it; any other is refused
    (ValueError) with the reason."""
    for service in CONTACT_SERVICES:
        if service.lower() == text.lower():
            return service
    offered = f"contacts come from {', '.join(CONTACT_SERVICES)}"
    if any(service.lower() == text.lower() for service in SERVICE_TYPES):
        raise ValueError(
            f"{text} has no contacts in Aurinko's Contacts API ({offered};"
            " Outlook.com is Office365)"
        )
    raise ValueError(f"unknown service {text!r} ({offered})")


# -- before anything is written -------------------------------------------------------------


def refuse_taken(config: Config, user: str, name: str) -> None:
    """LinkFailed if ``user/name`` is configured already, or its book is still in the store."""
    for account in config.accounts:
        if (account.user.lower(), account.name.lower()) == (user.lower(), name.lower()):
            raise LinkFailed(
                f"{account.user}/{account.name} is already in {config.path}"
                " (account remove takes it out)"
            )
    _refuse_old_copy(config, user, name)


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


def only_user(config: Config) -> str:
    """The htpasswd file's one user, whose book it is when no ``--user`` says."""
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


# -- a token the user has -------------------------------------------------------------------


class Verdict(enum.StrEnum):
    """What Aurinko said of a token, in one try."""

    OK = "ok"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    ERROR = "error"


def check_token(token: str, base_url: str) -> tuple[Verdict, str]:
    """What ``GET /account`` says of the token: OK with who the account is, or the
    verdict with the error's words."""
    try:
        with AurinkoClient(token, base_url, timeout=CHECK_TIMEOUT, retry=NO_RETRY) as client:
            info = client.account()
    except UnauthorizedError as exc:
        return Verdict.REFUSED, str(exc)
    except (UnavailableError, RateLimitedError) as exc:
        return Verdict.UNREACHABLE, str(exc)
    except AurinkoError as exc:
        return Verdict.ERROR, str(exc)
    service = f"[{info.service_type}]" if info.service_type else None
    return Verdict.OK, " ".join(x for x in (info.email, service) if x)


@dataclass(frozen=True)
class TokenLinked:
    token_file: str  # as the configuration names it
    who: str  # the account's address and provider, as Aurinko said ("" if it did not)


def link_token(
    config: Config, user: str, name: str, source: Path, display: str | None
) -> TokenLinked:
    """Add ``user/name`` with the token in ``source``, once Aurinko accepts the token."""
    assert config.path is not None
    _check_private(source, "token file")
    try:
        token = source.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise LinkFailed(f"cannot read token file {source}: {reason}") from None
    if not token:
        raise LinkFailed(f"token file {source} is empty")
    base_url = config.aurinko.base_url if config.aurinko is not None else DEFAULT_BASE_URL
    token_file = shown(source, config_folder(config))
    entry = _entry(config, user, name, base_url, token_file, display)
    verdict, info = check_token(token, base_url)
    if verdict is not Verdict.OK:
        problem = {
            Verdict.REFUSED: "the token was refused by Aurinko",
            Verdict.UNREACHABLE: f"Aurinko is unreachable at {base_url}",
        }.get(verdict, "the token could not be checked")
        raise LinkFailed(f"{problem} ({info}); {config.path} was not changed")
    configedit.add_account(config.path, entry)
    return TokenLinked(token_file, info)


# -- consent ----------------------------------------------------------------------------------


def add_linker(
    config: Config, user: str, name: str, service: str | None, display: str | None
) -> Linker:
    """The consent attempt that adds ``user/name``, with its token file beside the
    configuration under ``tokens/``."""
    app = config.aurinko
    if app is None or not app.client_id:
        raise LinkFailed(
            f"set [aurinko] client_id (and client_secret_file) in {config.path} to link"
            " accounts through your Aurinko application, or link a token with --token-file"
        )
    if service is None:
        raise LinkFailed(f"say which provider with --service ({', '.join(CONTACT_SERVICES)})")
    token_file = f"tokens/{user}.{name}.token"
    entry = _entry(config, user, name, app.base_url, token_file, display)
    token_path = config_folder(config) / "tokens" / f"{user}.{name}.token"
    if os.path.lexists(token_path):
        raise LinkFailed(f"{token_path} already exists; move it away first")
    secret = app.read_secret()
    return Linker(
        config=config, app=app, secret=secret, entry=entry, token_path=token_path, user=user
    )


@dataclass(frozen=True)
class Relink:
    """The consent attempt that renews ``account``'s token, and whom it asks."""

    linker: Relinker
    account_id: int
    service: str


def relinker(
    config: Config, account: AccountConfig, account_id: int | None, service: str | None
) -> Relink:
    """The consent attempt that replaces ``account``'s token file; nothing else changes."""
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
    account_id, service = _relink_target(account, account_id, service)
    secret = app.read_secret()
    linker = Relinker(
        account_id=account_id,
        config=config,
        app=app,
        secret=secret,
        entry={
            "name": account.name,
            "token_file": shown(account.token_file, config_folder(config)),
        },
        token_path=account.token_file,
        user=account.user,
    )
    return Relink(linker, account_id, service)


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
        return found_id, service_named(found_service)
    except ValueError as exc:
        raise LinkFailed(f"{exc}; give --service") from None


def consent(
    linker: Linker,
    app: AurinkoApp,
    *,
    port: int,
    service: str,
    account_id: int | None,
    timeout: float,
    show: Callable[[str], None],
) -> Outcome | Interrupted | None:
    """Listen on 127.0.0.1:``port`` (0: a free one), hand the consent address to ``show``
    and wait up to ``timeout`` seconds for the browser: the link's outcome, Interrupted
    (Ctrl-C), or None (no answer). Raises LinkFailed when the port cannot be had or Aurinko
    refuses the address outright (it would be a page in the browser, waited for in vain)."""
    try:
        server = CallbackServer(("127.0.0.1", port), linker)
    except OSError as exc:
        raise LinkFailed(
            f"cannot listen on 127.0.0.1:{port} for the callback: {exc.strerror}"
        ) from None
    try:
        assert app.client_id is not None
        return_url = f"http://127.0.0.1:{server.server_port}/callback"
        url = authorize_url(
            app.base_url, app.client_id, service, return_url, linker.state, account_id=account_id
        )
        refused = _authorize_refused(url, return_url, app, port == 0)
        if refused is not None:
            raise LinkFailed(refused)
        return _serve_until_decided(server, linker, url, timeout, show)
    finally:
        server.server_close()


def _serve_until_decided(
    server: CallbackServer,
    linker: Linker,
    url: str,
    timeout: float,
    show: Callable[[str], None],
) -> Outcome | Interrupted | None:
    thread = threading.Thread(target=server.serve_forever, name="account-callback", daemon=True)
    thread.start()
    try:
        show(url)
        return wait_for_outcome(linker, timeout)
    finally:
        server.shutdown()


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
