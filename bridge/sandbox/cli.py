"""Command-line glue: ``add_arguments`` for a parser, ``run`` to serve until a signal."""

from __future__ import annotations

import argparse
import signal
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from bridge.sandbox.config import FaultConfig, SandboxConfig, WebhookFaults
from bridge.sandbox.profiles import PROFILES, WRITE_ANSWERS, ProfileConfig
from bridge.sandbox.server import serve_in_thread

_FAULTS = FaultConfig()
_WEBHOOK_FAULTS = WebhookFaults()
_DEFAULTS = SandboxConfig(db_path=":memory:", tokens=["-"])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox's options to ``parser`` (its own parser or a subcommand's)."""
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    add("--port", type=int, default=0, help="port to listen on (default: 0, a free port)")
    add("--db", required=True, metavar="PATH", help="SQLite file holding the sandbox's data")
    add(
        "--token",
        action="append",
        required=True,
        metavar="T",
        help="bearer token of one account (repeatable); the first gets the seed",
    )
    add("--seed", metavar="FILE", help="JSON contacts loaded into the first account if empty")
    add("--page-size", type=int, default=50, metavar="N", help="records per sync page")
    add("--token-ttl", type=float, metavar="SECONDS", help="delta/page tokens expire after this")
    group = parser.add_argument_group(
        "provider profile and strictness (generic and off by default)"
    )
    group.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="generic",
        help="the provider behind the accounts: what a contact may hold (default: generic)",
    )
    group.add_argument(
        "--weak-etags", action="store_true", help='answer etags as W/"..." (If-Match takes both)'
    )
    group.add_argument(
        "--write-answer",
        choices=WRITE_ANSWERS,
        default="record",
        help="what POST/PATCH answer: {id, etag, record}, {id, etag} or {id} (default: record)",
    )
    group.add_argument(
        "--strict-body",
        action="store_true",
        help="400 for unknown top-level keys, for a null field and for a body that sets"
        " nothing ({})",
    )
    group.add_argument(
        "--null-ignored",
        action="store_true",
        help="PATCH treats a null field as absent (unchanged) instead of removing it",
    )
    group.add_argument(
        "--photo-ignored",
        action="store_true",
        help="POST and PATCH ignore the photo (set or removed), as Aurinko may",
    )
    group.add_argument(
        "--empty-unchanged",
        action="store_true",
        help='PATCH treats an empty value ("", [], a name part "", a photo without'
        " content) as unchanged instead of a removal",
    )
    group = parser.add_argument_group(
        "OAuth application: Aurinko's account flow on /v1/auth/* (off by default)"
    )
    group.add_argument("--client-id", metavar="ID", help="client id of the one OAuth application")
    group.add_argument(
        "--client-secret", metavar="SECRET", help="its client secret (needs --client-id)"
    )
    group.add_argument(
        "--return-url",
        action="append",
        default=[],
        metavar="URL",
        help="a registered return URL, matched exactly (repeatable; the consent sends the "
        "browser to these alone; none: every return URL is refused)",
    )
    group.add_argument(
        "--code-ttl",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how long a consent page and an authorization code stay usable (default: 300)",
    )
    group = parser.add_argument_group(
        "webhooks: /v1/subscriptions and signed notifications (refused without a signing secret)"
    )
    group.add_argument(
        "--signing-secret",
        metavar="SECRET",
        help="the application's signing secret: notifications carry X-Aurinko-Signature, "
        "the hex HMAC-SHA256 of v0:{timestamp}:{body}",
    )
    group.add_argument(
        "--webhook-timeout",
        type=float,
        default=_DEFAULTS.webhook_timeout,
        metavar="SECONDS",
        help="how long the validation handshake and each notification may take (default: 30,"
        " Aurinko's)",
    )
    group.add_argument(
        "--webhook-max-failures",
        type=int,
        default=_DEFAULTS.webhook_max_failures,
        metavar="N",
        help="failed notification attempts in a row that deactivate a subscription (default: 5)",
    )
    group.add_argument(
        "--webhook-retry-delay",
        type=float,
        default=_DEFAULTS.webhook_retry_delay,
        metavar="SECONDS",
        help="wait before retrying a failed notification, doubled at each retry (default: 1)",
    )
    add = group.add_argument
    add(
        "--webhook-drop-rate",
        type=float,
        default=_WEBHOOK_FAULTS.drop_rate,
        metavar="RATE",
        help="share of notifications (0..1) silently never sent",
    )
    add(
        "--webhook-delay",
        type=float,
        default=_WEBHOOK_FAULTS.delay,
        metavar="SECONDS",
        help="delay added before sending each notification",
    )
    add(
        "--webhook-duplicate-rate",
        type=float,
        default=_WEBHOOK_FAULTS.duplicate_rate,
        metavar="RATE",
        help="share of notifications sent twice",
    )
    add(
        "--webhook-bad-signature-rate",
        type=float,
        default=_WEBHOOK_FAULTS.bad_signature_rate,
        metavar="RATE",
        help="share of notification requests sent with a wrong signature",
    )
    add(
        "--webhook-fault-seed",
        type=int,
        default=_WEBHOOK_FAULTS.seed,
        metavar="N",
        help="seed of the webhook fault RNG, for reproducible runs",
    )
    group = parser.add_argument_group("fault injection (off by default)")
    add = group.add_argument
    add(
        "--fault-rate",
        type=float,
        default=_FAULTS.error_rate,
        metavar="RATE",
        help="share of /v1 requests (0..1) answered with an injected error",
    )
    add(
        "--fault-statuses",
        default=",".join(map(str, _FAULTS.error_statuses)),
        metavar="LIST",
        help="statuses to inject, comma-separated (default: 429,500,503)",
    )
    add(
        "--retry-after",
        type=float,
        default=_FAULTS.retry_after,
        metavar="SECONDS",
        help="Retry-After on injected 429/503 (default: 1)",
    )
    add(
        "--no-retry-after",
        action="store_true",
        help="injected 429/503 carry no Retry-After header",
    )
    add(
        "--latency",
        type=float,
        default=_FAULTS.latency,
        metavar="SECONDS",
        help="delay added to every /v1 request",
    )
    add(
        "--drop-rate",
        type=float,
        default=_FAULTS.drop_rate,
        metavar="RATE",
        help="share of requests whose connection is closed before acting",
    )
    add(
        "--drop-after-rate",
        type=float,
        default=_FAULTS.drop_after_rate,
        metavar="RATE",
        help="share of requests acted upon, then closed with no answer",
    )
    add(
        "--not-ready",
        type=int,
        default=_FAULTS.not_ready_count,
        metavar="N",
        help="first N sync starts with awaitReady=false answer ready:false",
    )
    add(
        "--fault-seed",
        type=int,
        default=_FAULTS.seed,
        metavar="N",
        help="seed of the fault RNG, for reproducible runs",
    )


def _statuses(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise ValueError(
            f"--fault-statuses must be comma-separated integers, got {text!r}"
        ) from exc


def build_config(args: argparse.Namespace) -> SandboxConfig:
    """A ``SandboxConfig`` from parsed arguments; ``ValueError`` names what is wrong."""
    faults = FaultConfig(
        error_rate=args.fault_rate,
        error_statuses=_statuses(args.fault_statuses),
        retry_after=None if args.no_retry_after else args.retry_after,
        latency=args.latency,
        drop_rate=args.drop_rate,
        drop_after_rate=args.drop_after_rate,
        not_ready_count=args.not_ready,
        seed=args.fault_seed,
    )
    return SandboxConfig(
        db_path=args.db,
        tokens=list(args.token),
        page_size=args.page_size,
        token_ttl=args.token_ttl,
        seed_path=args.seed,
        faults=faults,
        profile=ProfileConfig(
            name=args.profile,
            weak_etags=args.weak_etags,
            write_answer=args.write_answer,
            strict_body=args.strict_body,
            null_ignored=args.null_ignored,
            empty_unchanged=args.empty_unchanged,
            photo_ignored=args.photo_ignored,
        ),
        client_id=args.client_id,
        client_secret=args.client_secret,
        return_urls=tuple(args.return_url),
        code_ttl=args.code_ttl,
        signing_secret=args.signing_secret,
        webhook_timeout=args.webhook_timeout,
        webhook_max_failures=args.webhook_max_failures,
        webhook_retry_delay=args.webhook_retry_delay,
        webhook_faults=WebhookFaults(
            drop_rate=args.webhook_drop_rate,
            delay=args.webhook_delay,
            duplicate_rate=args.webhook_duplicate_rate,
            bad_signature_rate=args.webhook_bad_signature_rate,
            seed=args.webhook_fault_seed,
        ),
    )


@contextmanager
def _stop_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop``; the previous handlers come back afterwards."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _fail(message: str) -> int:
    print(f"aurinko sandbox: error: {message}", file=sys.stderr, flush=True)
    return 2


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; 0 on a clean stop, 2 for bad arguments or start-up."""
    try:
        config = build_config(args)
    except ValueError as exc:
        return _fail(str(exc))
    stop = threading.Event()
    with _stop_signals(stop):
        try:
            running = serve_in_thread(config, host=args.host, port=args.port)
        except (ValueError, OSError, sqlite3.Error) as exc:
            return _fail(str(exc))
        with running:
            print(f"Aurinko sandbox listening on {running.url}", flush=True)
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
    return 0
