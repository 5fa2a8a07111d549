"""What the CLI prints: errors as one line on stderr, progress on long work."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TextIO


def fail(message: str, status: int = 1) -> int:
    """Print ``aurinko-bridge: message`` to stderr and return the exit status to use."""
    print(f"aurinko-bridge: {message}", file=sys.stderr, flush=True)
    return status


class Progress:
    """A counter on stderr while long work runs: redrawn in place on a terminal, a line now
    and then otherwise. It is not a summary: the terminal's line is wiped at the end, and
    work shorter than ``every`` seconds prints no line elsewhere, so that the command's
    own summary is the only one left."""

    def __init__(self, label: str, stream: TextIO | None = None, every: float = 2.0) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.count = 0
        self._every = every
        self._last = time.monotonic()
        self._tty = self.stream.isatty()

    def __call__(self, done: int) -> None:
        self.count += done
        now = time.monotonic()
        if self._tty:
            self.stream.write(f"\r{self.label}: {self.count}")
            self.stream.flush()
        elif now - self._last >= self._every:
            self._last = now
            print(f"{self.label}: {self.count}", file=self.stream, flush=True)

    def close(self) -> None:
        if self._tty and self.count:
            self.stream.write("\r\x1b[K")  # back to the line's start, and erase it
            self.stream.flush()


class _Stopped(Exception):
    """SIGINT or SIGTERM arrived (raised in the main thread by the handler)."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stopped


@contextmanager
def until_stopped() -> Iterator[None]:
    """Run the body, then wait until SIGINT or SIGTERM: how long-running commands wait to be
    stopped. A signal at any moment after entry ends the body or the wait. The handler
    raises rather than sets an event: the event's lock may be held by the very wait it
    interrupts, and setting it would then hang."""
    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, _stop) for sig in stops}
    try:
        yield
        while True:
            time.sleep(3600)
    except _Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
