"""The configuration file (TOML): server, sync policy, the Aurinko accounts and the store.

Every key is documented in the README. Tokens are read from a file or an environment
variable, never from the file itself or the command line.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .aurinko import DEFAULT_BASE_URL
from .sync import ConflictPolicy

# A user or book name: one path segment, the same on every file system (htpasswd users too).
SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_VERSIONS = ("3.0", "4.0")

_KEYS: dict[str, set[str]] = {
    "server": {
        "host",
        "port",
        "data_dir",
        "htpasswd",
        "max_connections",
        "idle_timeout",
        "request_timeout",
        "login_delay",
    },
    "sync": {"interval", "conflict", "freshness", "request_wait", "write_wait"},
    "aurinko": {"client_id", "client_secret_file", "base_url", "callback_port"},
    "store": {"url", "password_file", "password_env"},
    "accounts": {
        "name",
        "user",
        "base_url",
        "token_file",
        "token_env",
        "display_name",
        "vcard_version",
    },
    "webhooks": {"public_url", "signing_secret_file", "max_skew", "check_interval"},
    "push": {
        "enabled",
        "contact",
        "allow_http",
        "allow_hosts",
        "max_subscriptions_per_user",
        "max_messages_per_minute",
    },
    "metrics": {"token_file"},
    "logging": {"format"},
}


DEFAULT_CALLBACK_PORT = 8765  # account add's return URL: http://127.0.0.1:8765/callback
DEFAULT_DATA_DIR = "var"  # [server] data_dir, relative to the configuration's folder

# Every other default is written once, as its dataclass field's default below; parsing
# falls back to the field (``Config.port``), never to a second copy of the value.


class ConfigError(ValueError):
    """The configuration is unusable; the message names the file and the key."""


@dataclass(frozen=True)
class AccountConfig:
    name: str  # the address book's path segment: /<user>/<name>/
    user: str  # the CardDAV user who sees it
    base_url: str = DEFAULT_BASE_URL
    token_file: Path | None = None
    token_env: str | None = None
    display_name: str = ""
    vcard_version: str = "3.0"

    def read_token(self) -> str:
        if self.token_env is not None:
            token = os.environ.get(self.token_env, "").strip()
            if not token:
                raise ConfigError(
                    f"account {self.name}: environment variable {self.token_env} is empty"
                )
            return token
        assert self.token_file is not None
        _check_private(self.token_file, f"account {self.name}: token file")
        try:
            token = self.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"account {self.name}: cannot read token file: {exc.strerror}"
            ) from None
        if not token:
            raise ConfigError(f"account {self.name}: token file {self.token_file} is empty")
        return token


@dataclass(frozen=True)
class AurinkoApp:
    """``[aurinko]``: the Aurinko application through which ``account add`` links accounts
    (its client id, the file holding its secret) and the API new accounts use."""

    client_id: str | None = None
    client_secret_file: Path | None = None
    base_url: str = DEFAULT_BASE_URL
    # The return URL http://127.0.0.1:8765/callback must be registered in the Aurinko portal,
    # so the default is one fixed port the README names (0: a free port, for tests).
    callback_port: int = DEFAULT_CALLBACK_PORT

    def read_secret(self) -> str:
        """The client secret, from a file only its owner can read. Read when linking an
        account only: ``serve`` never needs it."""
        if self.client_secret_file is None:
            raise ConfigError("[aurinko] client_secret_file is not set")
        return _read_secret(self.client_secret_file, "[aurinko] client_secret_file")


@dataclass(frozen=True)
class StoreConfig:
    """``[store]``: the store in PostgreSQL instead of SQLite in the data directory (which
    still holds the locks and kept conflicts). The URL names no password: it is shown in
    messages; the password comes from a private file or an environment variable, or from
    what libpq reads itself (~/.pgpass, PGPASSWORD) when neither is set."""

    url: str  # postgresql://user@host:port/dbname
    password_file: Path | None = None
    password_env: str | None = None

    def read_password(self) -> str | None:
        if self.password_env is not None:
            password = os.environ.get(self.password_env, "")
            if not password:
                raise ConfigError(f"[store]: environment variable {self.password_env} is empty")
            return password
        if self.password_file is None:
            return None
        # Spaces may belong to a password: only the line end is not part of it.
        return _read_secret(self.password_file, "[store] password_file", strip=False)


@dataclass(frozen=True)
class WebhooksConfig:
    """``[webhooks]``: Aurinko pushes change notifications to ``serve`` at
    ``{public_url}/.bridge/webhooks/aurinko/{book token}``, signed with the application's
    signing secret; each one makes the book pull at once (polling goes on regardless)."""

    public_url: str  # where Aurinko reaches this server's root: https://bridge.example.org
    signing_secret_file: Path
    max_skew: float = 300.0  # seconds a notification's timestamp may be off from now
    check_interval: float = 600.0  # seconds between checks (and renewals) of subscriptions

    def read_secret(self) -> str:
        """The application's signing secret, from a file only its owner can read."""
        return _read_secret(self.signing_secret_file, "[webhooks] signing_secret_file")


@dataclass(frozen=True)
class PushConfig:
    """``[push]``: WebDAV-Push (phones told of changes at once). ``contact`` is the VAPID
    ``sub`` push services may write to (mailto: or https:); ``allow_http`` lets clients
    register push services reached over plain http (one on the local network);
    ``allow_hosts`` names the hosts (as written in a push resource's URL) that may be on
    a private network or this machine, which no other may; the limits bound what one
    user can make the server send."""

    enabled: bool = True
    contact: str | None = None
    allow_http: bool = False
    allow_hosts: tuple[str, ...] = ()
    max_subscriptions_per_user: int = 50
    max_messages_per_minute: int = 30  # to one user's push service


@dataclass(frozen=True)
class MetricsConfig:
    """``[metrics]``: Prometheus metrics on ``/.bridge/metrics`` for scrapers that send the
    bearer token held in ``token_file`` (only its owner may read it). Without this
    section no metrics are served."""

    token_file: Path

    def read_token(self) -> str:
        return _read_secret(self.token_file, "[metrics] token_file")


@dataclass(frozen=True)
class Config:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 5232
    htpasswd: Path | None = None
    interval: float = 300.0
    freshness: float = 30.0  # a read pulls first when the book is older than this
    request_wait: float = 2.0  # the longest a CardDAV read waits for Aurinko
    write_wait: float = 0.0  # the longest a CardDAV write waits for Aurinko (0: never)
    conflict: ConflictPolicy = ConflictPolicy.REMOTE_WINS
    max_connections: int = 200  # open CardDAV connections; the slowest make way beyond it
    idle_timeout: float = 60.0  # a kept-open connection's wait for its next request
    request_timeout: float = 60.0  # from a request's first byte to its body's last
    login_delay: float = 1.0  # a refused password's answer waits 0.5-1.5 times this
    accounts: list[AccountConfig] = field(default_factory=list)
    path: Path | None = None
    aurinko: AurinkoApp | None = None  # [aurinko]: only ``account add`` needs it
    store: StoreConfig | None = None  # [store]: None keeps the store in SQLite in data_dir
    webhooks: WebhooksConfig | None = None  # [webhooks]: None: changes reach us by polling
    push: PushConfig = field(default_factory=PushConfig)  # [push]: WebDAV-Push
    metrics: MetricsConfig | None = None  # [metrics]: None serves no metrics
    log_format: str = "text"  # [logging] format: "text" for people, "json" for machines

    def account(self, selector: str) -> AccountConfig:
        """The account ``USER/NAME``, or ``NAME`` when only one user has an account of
        that name (two users' books of one name are two different Aurinko accounts)."""
        user, _, name = selector.rpartition("/")
        found = [a for a in self.accounts if a.name == name and user in ("", a.user)]
        if len(found) == 1:
            return found[0]
        if found:
            choices = " or ".join(f"{a.user}/{a.name}" for a in found)
            raise ConfigError(f"account name {name!r} is used by several users; say {choices}")
        known = ", ".join(f"{a.user}/{a.name}" for a in self.accounts) or "none"
        raise ConfigError(f"no account {selector!r} (configured: {known})")


def _read_secret(path: Path, what: str, *, strip: bool = True) -> str:
    """A secret from a file only its owner can read; ConfigError if it is not, or empty."""
    _check_private(path, what)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{what} {path}: cannot read: {reason}") from None
    secret = text.strip() if strip else text.rstrip("\r\n")
    if not secret:
        raise ConfigError(f"{what} {path} is empty")
    return secret


def _check_private(path: Path, what: str) -> None:
    """Secrets must not be readable, and configuration not writable, by other users."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"{what} {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{what} {path} is accessible by other users; run: chmod 600 {path}")


def _unknown(what: str, found: set[str], known: set[str]) -> str:
    """``unknown section(s): sever (did you mean server?)``: a typo names its fix."""
    named = []
    for name in sorted(found):
        close = difflib.get_close_matches(name, sorted(known), n=1)
        named.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return f"unknown {what}: {', '.join(named)}"


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{key}] must be a table")
    unknown = set(value) - _KEYS[key]
    if unknown:
        raise ConfigError(f"[{key}]: {_unknown('key(s)', unknown, _KEYS[key])}")
    return value


# What a TOML value of each type looks like, for messages: users write TOML, not Python.
_TYPE_WORDS = {str: "a string in quotes", int: "a whole number", float: "a number"}
_TOML_TYPES = {
    str: "a string",
    int: "a whole number",
    float: "a decimal number",
    bool: "true or false",
    dict: "a table",
    list: "a list",
}


def _expected(kind: type | tuple[type, ...]) -> str:
    if kind == (int, float):
        return "a number"
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(_TYPE_WORDS.get(k, k.__name__) for k in kinds)


def _typed(table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = table.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        given = _TOML_TYPES.get(type(value), "a date or time")
        raise ConfigError(
            f"{where}: {key} has the wrong type: expected {_expected(kind)}, found {given}"
        )
    return value


def _named(table: Mapping[str, Any], key: str, where: str) -> str | None:
    """An optional string that, when given, names something: blank is refused."""
    value: str | None = _typed(table, key, str, where)
    if value is not None and not value.strip():
        raise ConfigError(f"{where} {key} is empty")
    return value


def _positive(
    table: Mapping[str, Any], key: str, where: str, default: float, *, allow_zero: bool = False
) -> float:
    value = _typed(table, key, (int, float), where)
    if value is None:
        return default
    if not math.isfinite(value):
        raise ConfigError(f"{where} {key} must be a finite number")
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{where} {key} must be {'0 or more' if allow_zero else 'positive'}")
    return float(value)


def _account(raw: Any, index: int, base: Path) -> AccountConfig:
    where = f"[[accounts]] #{index + 1}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    if "token" in raw:
        raise ConfigError(f"{where}: never put a token in the file; use token_file or token_env")
    unknown = set(raw) - _KEYS["accounts"]
    if unknown:
        raise ConfigError(f"{where}: {_unknown('key(s)', unknown, _KEYS['accounts'])}")
    name, user = _typed(raw, "name", str, where), _typed(raw, "user", str, where)
    for key, value in (("name", name), ("user", user)):
        if not value or not SEGMENT.fullmatch(value):
            raise ConfigError(f"{where}: {key} must be letters, digits, '.', '_' or '-'")
    token_file, token_env = (
        _typed(raw, "token_file", str, where),
        _typed(raw, "token_env", str, where),
    )
    if (token_file is None) == (token_env is None):
        raise ConfigError(f"{where} ({name}): set exactly one of token_file and token_env")
    version = str(raw.get("vcard_version", AccountConfig.vcard_version))
    if version not in _VERSIONS:
        raise ConfigError(f"{where} ({name}): vcard_version must be 3.0 or 4.0")
    return AccountConfig(
        name=name,
        user=user,
        base_url=_typed(raw, "base_url", str, where) or AccountConfig.base_url,
        token_file=(base / token_file) if token_file else None,
        token_env=token_env,
        display_name=_typed(raw, "display_name", str, where) or name,
        vcard_version=version,
    )


def _aurinko(data: Mapping[str, Any], base: Path) -> AurinkoApp | None:
    if "aurinko" not in data:
        return None
    table, where = _table(data, "aurinko"), "[aurinko]"
    client_id = _named(table, "client_id", where)
    secret_file = _named(table, "client_secret_file", where)
    base_url = _typed(table, "base_url", str, where)
    if base_url is not None and not base_url.startswith(("https://", "http://")):
        raise ConfigError(f"{where} base_url must be an http(s) URL")
    port = _typed(table, "callback_port", int, where)
    if port is not None and not 0 <= port <= 65535:
        raise ConfigError(f"{where} callback_port must be 0-65535")
    return AurinkoApp(
        client_id=client_id.strip() if client_id else None,
        client_secret_file=base / secret_file if secret_file else None,
        base_url=base_url or AurinkoApp.base_url,
        callback_port=AurinkoApp.callback_port if port is None else port,
    )


# libpq's connection parameters that are secrets: its password-type ones (PQconndefaults
# marks them "*") and the SCRAM keys, which stand for the password. A URL holding one would
# show it wherever the URL is shown (messages, logs, `ps` of a tool it is handed to).
LIBPQ_SECRETS = (
    "password",
    "sslpassword",
    "oauth_client_secret",
    "scram_client_key",
    "scram_server_key",
)


def _store(data: Mapping[str, Any], base: Path) -> StoreConfig | None:
    if "store" not in data:
        return None
    table, where = _table(data, "store"), "[store]"
    url = _typed(table, "url", str, where)
    if not url:
        raise ConfigError(f"{where} url is required (postgresql://user@host:port/dbname)")
    _check_store_url(url, where)
    password_file = _named(table, "password_file", where)
    password_env = _named(table, "password_env", where)
    if password_file is not None and password_env is not None:
        raise ConfigError(f"{where}: set at most one of password_file and password_env")
    return StoreConfig(
        url=url,
        password_file=base / password_file if password_file else None,
        password_env=password_env,
    )


def _check_store_url(url: str, where: str) -> None:
    """Refuse a URL that is not PostgreSQL's, cannot be read, or holds a secret; the
    rest is libpq's to check when connecting (it takes forms urllib does not, several
    hosts for one). The URL itself is never repeated: it may hold what must not show."""
    try:
        parts = urlsplit(url)
        query = parse_qs(parts.query, keep_blank_values=True)
        userinfo_password = parts.password
    except ValueError as exc:  # postgresql://[::1 and the like
        raise ConfigError(f"{where} url is not a valid URL ({exc})") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(f"{where} url must be a postgresql:// URL")
    if userinfo_password is not None or "password" in query:
        raise ConfigError(
            f"{where} url must not contain a password (it would show in messages and"
            " logs); put it in a file named by password_file, or in the environment"
            " variable named by password_env"
        )
    secret = next((key for key in LIBPQ_SECRETS if key in query), None)
    if secret is not None:
        hint = _SECRET_HINTS.get(secret, "")
        raise ConfigError(
            f"{where} url must not contain {secret}: it is a secret, and the URL shows in"
            f" messages and logs{hint}"
        )


_SECRET_HINTS = {
    "sslpassword": "; keep the client key (sslkey) unencrypted, in a file only the bridge's"
    " user can read",
}


_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _webhooks(data: Mapping[str, Any], base: Path) -> WebhooksConfig | None:
    if "webhooks" not in data:
        return None
    table, where = _table(data, "webhooks"), "[webhooks]"
    url = _typed(table, "public_url", str, where)
    if not url:
        raise ConfigError(
            f"{where} public_url is required (https://host/ where Aurinko reaches serve)"
        )
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not one
    except ValueError:
        raise ConfigError(f"{where} public_url is not a URL: {url!r}") from None
    loopback = parts.scheme == "http" and parts.hostname in _LOOPBACK
    if not parts.hostname or not (parts.scheme == "https" or loopback):
        raise ConfigError(
            f"{where} public_url must be an https:// URL (http:// only on 127.0.0.1, for tests)"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(f"{where} public_url must not have a query, fragment or credentials")
    secret_file = _typed(table, "signing_secret_file", str, where)
    if not secret_file or not secret_file.strip():
        raise ConfigError(
            f"{where} signing_secret_file is required (the file holding your Aurinko"
            " application's signing secret)"
        )
    return WebhooksConfig(
        public_url=url.rstrip("/"),
        signing_secret_file=base / secret_file,
        max_skew=_positive(table, "max_skew", where, WebhooksConfig.max_skew),
        check_interval=_positive(table, "check_interval", where, WebhooksConfig.check_interval),
    )


def _push(data: Mapping[str, Any]) -> PushConfig:
    table, where = _table(data, "push"), "[push]"
    flags = {key: table.get(key) for key in ("enabled", "allow_http")}
    for key, value in flags.items():
        if value is not None and not isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be true or false")
    contact = _typed(table, "contact", str, where)
    if contact is not None:
        contact = contact.strip()
        mail = contact.startswith("mailto:") and "@" in contact
        web = contact.startswith("https://") and bool(urlsplit(contact).hostname)
        if not (mail or web):
            raise ConfigError(
                f"{where} contact must be a mailto: address or an https:// URL (push"
                " services write there about this server's messages)"
            )
    return PushConfig(
        enabled=PushConfig.enabled if flags["enabled"] is None else flags["enabled"],
        contact=contact or None,
        allow_http=bool(flags["allow_http"]),
        allow_hosts=_push_hosts(table, where),
        max_subscriptions_per_user=_count(
            table, "max_subscriptions_per_user", where, PushConfig.max_subscriptions_per_user
        ),
        max_messages_per_minute=_count(
            table, "max_messages_per_minute", where, PushConfig.max_messages_per_minute
        ),
    )


def _count(table: Mapping[str, Any], key: str, where: str, default: int) -> int:
    value = _typed(table, key, int, where)
    if value is not None and value < 1:
        raise ConfigError(f"{where} {key} must be 1 or more")
    return default if value is None else int(value)


def _push_hosts(table: Mapping[str, Any], where: str) -> tuple[str, ...]:
    """``allow_hosts``: host names or IP addresses, compared with a push resource's host
    as written (lower case, IPv6 without brackets): no scheme, port or path."""
    hosts = table.get("allow_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise ConfigError(f"{where} allow_hosts must be a list of host names or addresses")
    found = []
    for raw in hosts:
        host = raw.strip().lower().removeprefix("[").removesuffix("]")
        if not host or any(c in host for c in "/@?# ") or (":" in host and not _is_ip(host)):
            raise ConfigError(
                f"{where} allow_hosts: {raw!r} is not a host name or an address (no scheme,"
                " port or path)"
            )
        found.append(host)
    return tuple(dict.fromkeys(found))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _check_unambiguous(accounts: list[AccountConfig]) -> None:
    """One book per /user/name/; names that differ only in case would share a folder on
    case-insensitive file systems (conflicts/, exports), so they count as the same."""
    seen: dict[tuple[str, str], int] = {}
    for index, account in enumerate(accounts):
        key = (account.user.lower(), account.name.lower())
        if key in seen:
            first = accounts[seen[key]]
            raise ConfigError(
                f"[[accounts]] #{seen[key] + 1} (/{first.user}/{first.name}/) and"
                f" #{index + 1} (/{account.user}/{account.name}/) name the same address book;"
                " give each account of a user its own name"
            )
        seen[key] = index


def parse_config(data: Mapping[str, Any], base: Path, path: Path | None = None) -> Config:
    unknown = set(data) - set(_KEYS)
    if unknown:
        raise ConfigError(_unknown("section(s)", unknown, set(_KEYS)))
    server, sync = _table(data, "server"), _table(data, "sync")
    raw_accounts = data.get("accounts", [])
    if not isinstance(raw_accounts, list):
        raise ConfigError("accounts must be an array of tables ([[accounts]])")
    accounts = [_account(raw, i, base) for i, raw in enumerate(raw_accounts)]
    _check_unambiguous(accounts)
    try:
        conflict = ConflictPolicy(sync.get("conflict", Config.conflict))
    except ValueError:
        raise ConfigError("[sync] conflict must be remote-wins or local-wins") from None
    htpasswd = _typed(server, "htpasswd", str, "[server]")
    port = _typed(server, "port", int, "[server]")
    if port is not None and not 0 <= port <= 65535:
        raise ConfigError("[server] port must be 0-65535")
    interval = _typed(sync, "interval", (int, float), "[sync]")
    freshness = _typed(sync, "freshness", (int, float), "[sync]")
    request_wait = _positive(sync, "request_wait", "[sync]", Config.request_wait, allow_zero=True)
    write_wait = _positive(sync, "write_wait", "[sync]", Config.write_wait, allow_zero=True)
    max_connections = _positive(server, "max_connections", "[server]", Config.max_connections)
    return Config(
        data_dir=base / str(_typed(server, "data_dir", str, "[server]") or DEFAULT_DATA_DIR),
        host=_typed(server, "host", str, "[server]") or Config.host,
        port=Config.port if port is None else port,
        htpasswd=base / htpasswd if htpasswd else None,
        interval=Config.interval if interval is None else float(interval),
        freshness=Config.freshness if freshness is None else float(freshness),
        request_wait=request_wait,
        write_wait=write_wait,
        conflict=conflict,
        max_connections=int(max_connections),
        idle_timeout=_positive(server, "idle_timeout", "[server]", Config.idle_timeout),
        request_timeout=_positive(server, "request_timeout", "[server]", Config.request_timeout),
        login_delay=_positive(
            server, "login_delay", "[server]", Config.login_delay, allow_zero=True
        ),
        accounts=accounts,
        path=path,
        aurinko=_aurinko(data, base),
        store=_store(data, base),
        webhooks=_webhooks(data, base),
        push=_push(data),
        metrics=_metrics(data, base),
        log_format=_log_format(data),
    )


def _metrics(data: Mapping[str, Any], base: Path) -> MetricsConfig | None:
    if "metrics" not in data:
        return None
    token_file = _typed(_table(data, "metrics"), "token_file", str, "[metrics]")
    if not token_file or not token_file.strip():
        raise ConfigError(
            "[metrics] token_file is required (the file holding the token scrapers send as"
            " Authorization: Bearer ...)"
        )
    return MetricsConfig(token_file=base / token_file)


def _log_format(data: Mapping[str, Any]) -> str:
    value = _typed(_table(data, "logging"), "format", str, "[logging]") or "text"
    if value not in ("text", "json"):
        raise ConfigError(f'[logging] format must be "text" or "json", not {value!r}')
    return value


def load_config(path: str | Path) -> Config:
    """Read and check ``path``; relative paths inside it are relative to its folder."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if path.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(f"{path} is writable by other users; run: chmod go-w {path}")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return parse_config(data, path.resolve().parent, path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
