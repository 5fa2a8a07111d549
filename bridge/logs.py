"""How the bridge's log lines look, and what they carry.

Readable lines by default; one JSON object per line with ``[logging] format = "json"``,
for a machine to read. Either way each line of work done for a CardDAV request carries
that request's id, also when the work runs later on another thread (the push to Aurinko
after a PUT), so one write can be followed from its PUT to its PATCH.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

FORMATS = ("text", "json")
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"

# The request (or requests, comma-separated, when one run serves several) a line is for.
request_id: ContextVar[str | None] = ContextVar("bridge_request_id", default=None)
log_user: ContextVar[str | None] = ContextVar("bridge_log_user", default=None)
log_book: ContextVar[str | None] = ContextVar("bridge_log_book", default=None)

# Belt and braces: nothing logs a credential on purpose, but a library's message might.
_SECRETS = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")


def new_request_id() -> str:
    return secrets.token_hex(6)


@contextmanager
def scope(
    request: str | None = None, *, user: str | None = None, book: str | None = None
) -> Iterator[None]:
    """Lines logged inside carry ``request``, ``user`` and ``book`` (those given)."""
    tokens = [
        (var, var.set(value))
        for var, value in ((request_id, request), (log_user, user), (log_book, book))
        if value is not None
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Puts the context's request id, user and book on each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("request_id", request_id), ("user", log_user), ("book", log_book)):
            if not hasattr(record, name):
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        line = {
            "time": _iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(message),
            "user": getattr(record, "user", None),
            "book": getattr(record, "book", None),
            "request_id": getattr(record, "request_id", None),
        }
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The default: level, logger and message, with the request id when there is one."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = redact(super().format(record))
        rid = getattr(record, "request_id", None)
        return f"{text} [request {rid}]" if rid else text


def redact(text: str) -> str:
    return _SECRETS.sub(lambda m: f"{m.group(1)} ***", text)


def configure(level: int, fmt: str = "text") -> None:
    """The root logger writes to stderr in ``fmt``; called again when the configuration
    (``[logging] format``) is known."""
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: choose one of {', '.join(FORMATS)}")
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    root.setLevel(level)
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())


def _iso(created: float) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{stamp}.{int(created % 1 * 1000):03d}Z"
