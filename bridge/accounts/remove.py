"""Removing an account: its ``[[accounts]]`` table out of the configuration and, best
effort, its webhook subscription at Aurinko, its token file, and (asked for) the account at
Aurinko and its local copy. Each step done (or not) is a ``Removed`` record;
``bridge.commands.account`` words and prints them."""

from __future__ import annotations

import enum
import os
import shutil
import sqlite3
from dataclasses import dataclass

from .. import configedit
from ..aurinko import NO_RETRY, AurinkoClient, AurinkoError, NotFoundError, UnauthorizedError
from ..config import AccountConfig, Config, ConfigError
from ..consent import LinkFailed
from ..store import ContactStore, SchemaTooNewError, StoreError, open_database, store_exists
from ..store.kinds import BookKind
from ..store.webhooks import WebhookRow, WebhookStore
from ..sync import SyncEngine
from ..sync.locks import LockTimeout
from .common import CHECK_TIMEOUT, config_folder

PURGE_LOCK_WAIT = 30.0  # seconds a purge waits for a running sync of the book


class Step(enum.Enum):
    """A step of a removal, done or not; ``Removed`` says which and about what."""

    TABLE_REMOVED = "table-removed"  # what: USER/NAME, where: the configuration file
    STORE_UNREADABLE = "store-unreadable"  # why: no webhook subscription could be looked up
    COPY_DELETED = "copy-deleted"  # what: the book's path
    HOOK_TOKEN_UNREADABLE = "hook-token-unreadable"  # why
    HOOK_KEPT = "hook-kept"  # what: the subscription id, why: Aurinko's error
    HOOK_DELETED = "hook-deleted"  # what: the subscription id
    REVOKE_REFUSED = "revoke-refused"  # why: the token was refused, the account is gone
    REVOKE_FAILED = "revoke-failed"  # where: the account's base URL, why
    REVOKED = "revoked"
    TOKEN_KEPT_TO_REVOKE = "token-kept-to-revoke"  # what: the token file
    TOKEN_DELETED = "token-deleted"  # what: its name under tokens/
    TOKEN_NOT_DELETED = "token-not-deleted"  # what: the token file, why
    TOKEN_KEPT_NOT_OURS = "token-kept-not-ours"  # what: the token file
    COPY_STAYS = "copy-stays"  # where: the data directory
    NO_COPY = "no-copy"
    CONFLICTS_DELETED = "conflicts-deleted"  # where: their folder
    LEFTOVER_PURGED = "leftover-purged"  # what: USER/NAME of a copy no longer configured


@dataclass(frozen=True)
class Removed:
    """One step of a removal, with what it was about."""

    step: Step
    what: str = ""
    where: str = ""
    why: str = ""


def remove_account(
    config: Config, account: AccountConfig, *, purge: bool, revoke: bool
) -> list[Removed]:
    """``account remove``: the account's table, its webhook subscription, its token file
    (and with ``revoke`` the account at Aurinko; with ``purge`` its local copy and kept
    conflicts). Returns what was done, a record each; raises LinkFailed when nothing was."""
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


def purge_leftover(config: Config, selector: str) -> Removed:
    """``remove USER/NAME --purge`` of an account no longer configured: the local copy an
    earlier ``remove`` kept, and its kept conflicts. Returns what was done."""
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
    return Removed(Step.LEFTOVER_PURGED, selector)


def _remove(
    config: Config,
    account: AccountConfig,
    engine: SyncEngine | None,
    *,
    purge: bool,
    hook: WebhookRow | None = None,
    revoke: bool = False,
) -> list[Removed]:
    """Take the table out, then (only then) the book's webhook subscription at Aurinko
    (while its token is still there), the token file ``account add`` wrote and, with
    ``purge``, the book: under the book's sync lock, so no sync of it is midway."""
    assert config.path is not None
    label = f"{account.user}/{account.name}"
    book = engine.store.get_book(account.user, account.name) if engine is not None else None
    report = [Removed(Step.TABLE_REMOVED, label, str(config.path))]
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
        report.append(Removed(Step.COPY_DELETED, book.path))
    if hook is not None:
        report.extend(_unsubscribe(config, account, hook))
    revoked = True
    if revoke:
        revoked, said = _revoke(account)
        report.append(said)
    ours = config_folder(config) / "tokens" / f"{account.user}.{account.name}.token"
    if not revoked and account.token_file is not None:
        report.append(Removed(Step.TOKEN_KEPT_TO_REVOKE, str(account.token_file)))
    elif account.token_file is not None and os.path.abspath(account.token_file) == str(ours):
        try:
            ours.unlink(missing_ok=True)
            report.append(Removed(Step.TOKEN_DELETED, ours.name))
        except OSError as exc:
            report.append(Removed(Step.TOKEN_NOT_DELETED, str(ours), why=str(exc.strerror)))
    elif account.token_file is not None:
        report.append(Removed(Step.TOKEN_KEPT_NOT_OURS, str(account.token_file)))
    if not purge:
        report.append(Removed(Step.COPY_STAYS, where=str(config.data_dir)))
        return report
    if book is None:
        report.append(Removed(Step.NO_COPY))
    conflicts = config.data_dir / "conflicts" / account.user / account.name
    if conflicts.is_dir():
        shutil.rmtree(conflicts, ignore_errors=True)
        report.append(Removed(Step.CONFLICTS_DELETED, where=str(conflicts)))
    return report


def _revoke(account: AccountConfig) -> tuple[bool, Removed]:
    """``DELETE /v1/account`` with the account's token, once: whether the Aurinko account is
    gone (or was already), and what to report."""
    try:
        token = account.read_token()
        with AurinkoClient(
            token, account.base_url, timeout=CHECK_TIMEOUT, retry=NO_RETRY
        ) as client:
            client.delete_account()
    except UnauthorizedError as exc:
        return True, Removed(Step.REVOKE_REFUSED, why=str(exc))
    except (ConfigError, AurinkoError) as exc:
        return False, Removed(Step.REVOKE_FAILED, where=account.base_url, why=str(exc))
    return True, Removed(Step.REVOKED)


def _webhook_of(config: Config, account: AccountConfig) -> tuple[WebhookRow | None, list[Removed]]:
    """The book's webhook subscription as the store records it (None: it has none, or
    there is no store), and what to report if the store could not be read."""
    try:
        if not store_exists(config.data_dir, config.store):
            return None, []
        db = open_database(config.data_dir, config.store)
    except (StoreError, SchemaTooNewError, ConfigError, sqlite3.Error) as exc:
        return None, [Removed(Step.STORE_UNREADABLE, why=str(exc))]
    try:
        book = ContactStore(db).get_book(account.user, account.name)
        return (WebhookStore(db).get(book.id) if book is not None else None), []
    finally:
        db.close()


def _unsubscribe(config: Config, account: AccountConfig, hook: WebhookRow) -> list[Removed]:
    """Delete the book's subscriptions at Aurinko (the recorded one, and any other to its
    notification URL), then its record. Best effort: a failure is reported, not fatal."""
    try:
        token = account.read_token()
    except ConfigError as exc:
        return [Removed(Step.HOOK_TOKEN_UNREADABLE, why=str(exc))]
    report: list[Removed] = []
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
                report.append(Removed(Step.HOOK_KEPT, subscription_id, why=str(exc)))
                continue
            report.append(Removed(Step.HOOK_DELETED, subscription_id))
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
