"""Accounts as the domain sees them, apart from the command line that asks for them:
removing one takes its ``[[accounts]]`` table out of the configuration and, best effort,
its webhook subscription at Aurinko, its token file, and (asked for) the account at Aurinko
and its local copy. ``bridge.commands.account`` parses the arguments and prints the lines."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import httpx

from . import configedit
from .aurinko import NO_RETRY, AurinkoClient, AurinkoError, NotFoundError, UnauthorizedError
from .config import AccountConfig, Config, ConfigError
from .consent import LinkFailed
from .store import ContactStore, SchemaTooNewError, StoreError, open_database, store_exists
from .store.kinds import BookKind
from .store.webhooks import WebhookRow, WebhookStore
from .sync import SyncEngine
from .sync.locks import LockTimeout

CHECK_TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # a call at Aurinko: one try, not long
PURGE_LOCK_WAIT = 30.0  # seconds a purge waits for a running sync of the book


def config_folder(config: Config) -> Path:
    """The configuration file's folder, where ``account add`` keeps token files."""
    assert config.path is not None
    return config.path.resolve().parent


def remove_account(
    config: Config, account: AccountConfig, *, purge: bool, revoke: bool
) -> list[str]:
    """``account remove``: the account's table, its webhook subscription, its token file
    (and with ``revoke`` the account at Aurinko; with ``purge`` its local copy and kept
    conflicts). Returns what was done, a line each; raises LinkFailed when nothing was."""
    assert config.path is not None
    hook, hook_report = _webhook_of(config, account)  # read before purge deletes it
    engine: SyncEngine | None = None
    if purge and store_exists(config.data_dir, config.store):
        engine = SyncEngine(config.data_dir, store=config.store)
    try:
        report = _remove(config, account, engine, purge=purge, hook=hook, revoke=revoke)
        report[1:1] = hook_report
    finally:
        if engine is not None:
            engine.close()
    return report


def purge_leftover(config: Config, selector: str) -> str:
    """``remove USER/NAME --purge`` of an account no longer configured: the local copy an
    earlier ``remove`` kept, and its kept conflicts. Returns the line to report."""
    user, _, name = selector.rpartition("/")
    if not user:
        raise LinkFailed(f"no account {name!r} is configured; name the copy to purge as USER/NAME")
    found = False
    if store_exists(config.data_dir, config.store):
        engine = SyncEngine(config.data_dir, store=config.store)
        try:
            book = engine.store.get_book(user, name)
            if book is not None and book.kind == BookKind.AURINKO:
                with engine.locks.hold(book.id, timeout=PURGE_LOCK_WAIT):
                    engine.store.delete_book(book.id)
                found = True
        except LockTimeout:
            raise LinkFailed(f"{selector} is being synced; nothing was changed") from None
        finally:
            engine.close()
    conflicts = config.data_dir / "conflicts" / user / name
    if not found and not conflicts.is_dir():
        raise LinkFailed(f"{selector} is neither configured nor kept in {config.data_dir}")
    shutil.rmtree(conflicts, ignore_errors=True)
    return f"Deleted the local copy of {selector} (no longer configured) and its conflicts."


def _remove(
    config: Config,
    account: AccountConfig,
    engine: SyncEngine | None,
    *,
    purge: bool,
    hook: WebhookRow | None = None,
    revoke: bool = False,
) -> list[str]:
    """Take the table out, then (only then) the book's webhook subscription at Aurinko
    (while its token is still there), the token file ``account add`` wrote and, with
    ``purge``, the book: under the book's sync lock, so no sync of it is midway."""
    assert config.path is not None
    label = f"{account.user}/{account.name}"
    book = engine.store.get_book(account.user, account.name) if engine is not None else None
    report = [f"Removed [[accounts]] {label} from {config.path}."]
    if engine is None or book is None or book.kind != BookKind.AURINKO:
        configedit.remove_account(config.path, account.user, account.name)
    else:
        try:
            with engine.locks.hold(book.id, timeout=PURGE_LOCK_WAIT):
                configedit.remove_account(config.path, account.user, account.name)
                engine.store.delete_book(book.id)
        except LockTimeout:
            raise LinkFailed(
                f"{label} is being synced (is serve running? stop it first); nothing was changed"
            ) from None
        report.append(f"Deleted its local copy (the book {book.path}) from the store.")
    if hook is not None:
        report.extend(_unsubscribe(config, account, hook))
    revoked = True
    if revoke:
        revoked, said = _revoke(account)
        report.append(said)
    ours = config_folder(config) / "tokens" / f"{account.user}.{account.name}.token"
    if not revoked and account.token_file is not None:
        report.append(f"Kept its token file {account.token_file}, to revoke the account with.")
    elif account.token_file is not None and os.path.abspath(account.token_file) == str(ours):
        try:
            ours.unlink(missing_ok=True)
            report.append(f"Deleted its token file tokens/{ours.name}.")
        except OSError as exc:
            report.append(f"Could not delete its token file {ours}: {exc.strerror}.")
    elif account.token_file is not None:
        report.append(f"Kept its token file {account.token_file} (not written by account add).")
    if not purge:
        report.append(
            f"Its local copy stays in {config.data_dir} (account remove --purge deletes it)."
        )
        return report
    if book is None:
        report.append("It had no local copy in the store.")
    conflicts = config.data_dir / "conflicts" / account.user / account.name
    if conflicts.is_dir():
        shutil.rmtree(conflicts, ignore_errors=True)
        report.append(f"Deleted its kept conflicts ({conflicts}).")
    return report


def _revoke(account: AccountConfig) -> tuple[bool, str]:
    """``DELETE /v1/account`` with the account's token, once: whether the Aurinko account is
    gone (or was already), and the line to report."""
    try:
        token = account.read_token()
        with AurinkoClient(
            token, account.base_url, timeout=CHECK_TIMEOUT, retry=NO_RETRY
        ) as client:
            client.delete_account()
    except UnauthorizedError as exc:
        return True, (
            f"Aurinko refused its token ({exc}): the Aurinko account is deleted already, or"
            " can only be deleted in the Aurinko portal now."
        )
    except (ConfigError, AurinkoError) as exc:
        return False, (
            f"Could not delete the account at Aurinko ({exc}); delete it in the Aurinko portal"
            f" (or DELETE {account.base_url}/account with its token)"
        )
    return True, "Deleted the account at Aurinko (DELETE /v1/account), and its provider grant."


def _webhook_of(config: Config, account: AccountConfig) -> tuple[WebhookRow | None, list[str]]:
    """The book's webhook subscription as the store records it (None: it has none, or
    there is no store), and what to report if the store could not be read."""
    try:
        if not store_exists(config.data_dir, config.store):
            return None, []
        db = open_database(config.data_dir, config.store)
    except (StoreError, SchemaTooNewError, ConfigError, sqlite3.Error) as exc:
        return None, [f"Could not read the store to find its webhook subscription: {exc}."]
    try:
        book = ContactStore(db).get_book(account.user, account.name)
        return (WebhookStore(db).get(book.id) if book is not None else None), []
    finally:
        db.close()


def _unsubscribe(config: Config, account: AccountConfig, hook: WebhookRow) -> list[str]:
    """Delete the book's subscriptions at Aurinko (the recorded one, and any other to its
    notification URL), then its record. Best effort: a failure is reported, not fatal."""
    try:
        token = account.read_token()
    except ConfigError as exc:
        return [f"Could not delete its webhook subscription at Aurinko: {exc}."]
    report: list[str] = []
    with AurinkoClient(token, account.base_url, timeout=CHECK_TIMEOUT, retry=NO_RETRY) as client:
        ids = [hook.subscription_id] if hook.subscription_id else []
        try:
            listed = client.subscriptions()
            ids += [
                s.id
                for s in listed
                if s.notification_url == hook.notification_url and s.id not in ids
            ]
        except AurinkoError:
            pass  # the recorded one is deleted all the same
        failed = False
        for subscription_id in ids:
            try:
                client.unsubscribe(subscription_id)
            except NotFoundError:
                pass  # gone already
            except AurinkoError as exc:
                failed = True
                report.append(
                    f"Could not delete its webhook subscription {subscription_id} at Aurinko"
                    f" ({exc}); delete it there, or it lapses when notifications keep failing."
                )
                continue
            report.append(f"Deleted its webhook subscription {subscription_id} at Aurinko.")
    if not failed:
        _forget_webhook(config, hook.book_id)
    return report


def _forget_webhook(config: Config, book_id: int) -> None:
    try:
        db = open_database(config.data_dir, config.store)
    except (StoreError, SchemaTooNewError, ConfigError, sqlite3.Error):
        return  # the record points at nothing; a later serve of the book replaces it
    try:
        WebhookStore(db).delete(book_id)
    finally:
        db.close()
