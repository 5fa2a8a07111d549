"""What the CLI prints: errors as one line on stderr, progress on long work."""

from __future__ import annotations

import signal
import sys
import threading
import time
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


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM: how long-running commands wait to be stopped."""
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handle)
    stop.wait()
