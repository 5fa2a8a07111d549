"""Webhook tokens never reach a log line.

A book's token in its notification URL is the secret that makes the URL one nobody can
guess (together with the signature it is what stands between the internet and a pull). It
can reach a log line from many places: Aurinko quotes the URL in the error of a failed
subscription, the HTTP server's request lines at -vv name the path, a library may log a URL.
So the redaction is not left to each message: ``install`` wraps the logging module's record
factory, the one place every record passes whatever loggers and handlers are set up (the
bridge's, Radicale's, a library's), and a record naming a token is rewritten before any
handler formats it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

# The path segment after the prefix, whatever the URL's host (the public URL, or the path
# alone in a request line); the prefix is repeated here rather than imported to keep this
# module free of the endpoint's imports.
_TOKEN_IN_URL = re.compile(r"(/\.bridge/webhooks/aurinko/)[^/?#\s\"'<>)]+")
SHOWN = "<token>"

_lock = threading.Lock()
_installed = False


def redact(text: str) -> str:
    """``text`` with each webhook token in a URL or path replaced by ``<token>``."""
    return _TOKEN_IN_URL.sub(rf"\g<1>{SHOWN}", text)


def install() -> None:
    """Redact webhook tokens in every log record from now on (once per process)."""
    global _installed
    with _lock:
        if _installed:
            return
        logging.setLogRecordFactory(_RedactingFactory(logging.getLogRecordFactory()))
        _installed = True


class _RedactingFactory:
    def __init__(self, upstream: Callable[..., logging.LogRecord]) -> None:
        self._upstream = upstream

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self._upstream(*args, **kwargs)
        try:
            _scrub(record)
        except Exception:  # a message that cannot be formatted fails later, as it would
            pass
        return record


def _scrub(record: logging.LogRecord) -> None:
    message = record.getMessage()
    if _TOKEN_IN_URL.search(message):
        record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        if _TOKEN_IN_URL.search(str(error)):
            # Its traceback would repeat the token: the exception is named, redacted.
            record.msg = f"{record.msg} ({type(error).__name__}: {redact(str(error))})"
            record.args, record.exc_info, record.exc_text = None, None, None
