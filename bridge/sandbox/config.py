"""Configuration of the sandbox: what it stores, how it pages, which faults it injects."""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge.sandbox import returnurls
from bridge.sandbox.profiles import ProfileConfig

# The longest wait between two attempts of one notification, however long the backoff grew.
MAX_RETRY_DELAY = 60.0


def _check_rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value}")


@dataclass(frozen=True)
class FaultConfig:
    """Fault injection settings; everything is off by default.

    Frozen so that a request thread always sees one consistent set of settings, and so
    that one instance can safely be the default of every ``SandboxConfig``:
    changing faults at runtime swaps the whole object (see ``SandboxApp.set_faults``).
    """

    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (429, 500, 503)
    retry_after: float | None = 1
    latency: float = 0.0
    drop_rate: float = 0.0
    drop_after_rate: float = 0.0
    not_ready_count: int = 0
    seed: int | None = None

    def __post_init__(self) -> None:
        # Accept any iterable of statuses (e.g. a JSON list) but keep the value hashable.
        object.__setattr__(self, "error_statuses", tuple(self.error_statuses))
        _check_rate("error_rate", self.error_rate)
        _check_rate("drop_rate", self.drop_rate)
        _check_rate("drop_after_rate", self.drop_after_rate)
        for status in self.error_statuses:
            if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
                raise ValueError(f"error_statuses must be HTTP error statuses, got {status!r}")
        if self.error_rate > 0 and not self.error_statuses:
            raise ValueError("error_statuses must not be empty when error_rate > 0")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError(f"retry_after must be >= 0, got {self.retry_after}")
        if self.latency < 0:
            raise ValueError(f"latency must be >= 0, got {self.latency}")
        if self.not_ready_count < 0:
            raise ValueError(f"not_ready_count must be >= 0, got {self.not_ready_count}")


@dataclass(frozen=True)
class WebhookFaults:
    """Faults of outgoing webhook notifications; everything is off by default.

    Drawn once per notification (``drop_rate``, ``duplicate_rate``) or once per HTTP
    request sent (``bad_signature_rate``) from one RNG seeded with ``seed``; ``delay``
    seconds pass before each notification is sent. Frozen, like ``FaultConfig``:
    ``SandboxApp.set_webhook_faults`` swaps the whole object.
    """

    drop_rate: float = 0.0
    delay: float = 0.0
    duplicate_rate: float = 0.0
    bad_signature_rate: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        _check_rate("drop_rate", self.drop_rate)
        _check_rate("duplicate_rate", self.duplicate_rate)
        _check_rate("bad_signature_rate", self.bad_signature_rate)
        if self.delay < 0:
            raise ValueError(f"delay must be >= 0, got {self.delay}")


@dataclass
class SandboxConfig:
    """Everything a ``SandboxApp`` needs to start.

    ``tokens`` are bearer tokens, one account each; the first one is the account that
    ``seed_path`` fills. ``db_path`` may be ``":memory:"`` for tests. ``profile`` picks
    the provider behind the account and the strictness switches (``ProfileConfig``).

    ``client_id`` and ``client_secret`` (both or neither) register the one OAuth
    application that may run Aurinko's account flow (``/v1/auth/*``) against the sandbox;
    ``return_urls`` are its registered return URLs at start (the only ones it redirects
    to; ``SandboxApp.register_return_url`` adds more), and ``code_ttl`` is how many
    seconds a consent page and an authorization code stay usable.

    ``signing_secret`` is the application's webhook signing secret: without it the
    sandbox refuses webhook subscriptions. ``webhook_timeout`` bounds the validation
    handshake and each notification request; a notification that fails is retried after
    ``webhook_retry_delay`` seconds, doubling each time (at most
    ``MAX_RETRY_DELAY``), until it is delivered or ``webhook_max_failures`` attempts in a
    row have failed, which deactivates the subscription. ``webhook_faults`` are the
    notification faults at start.
    """

    db_path: str
    tokens: list[str]
    page_size: int = 50
    token_ttl: float | None = None
    seed_path: str | None = None
    faults: FaultConfig = FaultConfig()
    profile: ProfileConfig = field(default_factory=ProfileConfig)
    client_id: str | None = None
    client_secret: str | None = None
    return_urls: tuple[str, ...] = ()
    code_ttl: float = 300.0
    signing_secret: str | None = None
    webhook_timeout: float = 30.0  # DOC-V: Aurinko waits 30 s for the handshake
    webhook_max_failures: int = 5
    webhook_retry_delay: float = 1.0
    webhook_faults: WebhookFaults = WebhookFaults()

    def __post_init__(self) -> None:
        if not self.tokens:
            raise ValueError("at least one bearer token is required")
        if any(not token or token != token.strip() for token in self.tokens):
            raise ValueError("bearer tokens must be non-empty and have no surrounding spaces")
        if self.page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {self.page_size}")
        if self.token_ttl is not None and self.token_ttl <= 0:
            raise ValueError(f"token_ttl must be > 0, got {self.token_ttl}")
        self._check_oauth()
        self._check_webhooks()

    def _check_webhooks(self) -> None:
        if self.signing_secret is not None and not self.signing_secret:
            raise ValueError("signing_secret must not be empty")
        if not self.webhook_timeout > 0:
            raise ValueError(f"webhook_timeout must be > 0, got {self.webhook_timeout}")
        if self.webhook_max_failures < 1:
            raise ValueError(f"webhook_max_failures must be >= 1, got {self.webhook_max_failures}")
        if self.webhook_retry_delay < 0:
            raise ValueError(f"webhook_retry_delay must be >= 0, got {self.webhook_retry_delay}")

    def _check_oauth(self) -> None:
        # Accept any iterable (e.g. argparse's list) but keep the value hashable.
        self.return_urls = tuple(self.return_urls)
        if (self.client_id is None) != (self.client_secret is None):
            raise ValueError("client_id and client_secret must be given together")
        # A colon would end the id early in HTTP Basic's "id:secret" (RFC 7617).
        if self.client_id is not None and (
            not self.client_id or ":" in self.client_id or self.client_id != self.client_id.strip()
        ):
            raise ValueError("client_id must be non-empty, without ':' or surrounding spaces")
        if self.client_secret is not None and not self.client_secret:
            raise ValueError("client_secret must not be empty")
        if self.return_urls and self.client_id is None:
            raise ValueError("return_urls need an OAuth application (client_id, client_secret)")
        for url in self.return_urls:
            problem = returnurls.problem(url)
            if problem is not None:
                raise ValueError(f"return URL {url!r} is not usable: {problem}")
        if not self.code_ttl > 0:
            raise ValueError(f"code_ttl must be > 0, got {self.code_ttl}")
