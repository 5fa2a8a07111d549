"""Ports a test must know before a program listens on them (an OAuth return URL registered
ahead, a configuration written ahead).

A port found free by binding to 0 comes from the kernel's ephemeral range, where any other
test's server (binding to 0 too) may take it before our program listens on it: with xdist
workers side by side, that happens. These come from below that range, where binding to 0
never lands, and from a block of their own for each xdist worker.
"""

from __future__ import annotations

import itertools
import os
import socket

_BASE = 20_000  # below Linux's default ephemeral range (32768-60999)
_BLOCK = 1_000  # ports per xdist worker


def _worker() -> int:
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # gw0, gw1, ... (none: one process)
    digits = name.removeprefix("gw")
    return int(digits) if digits.isdigit() else 0


_next = itertools.count(_BASE + _BLOCK * _worker())


def reserved_port() -> int:
    """A free port of this worker's block, each call another."""
    for port in _next:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("unreachable")
