"""The suite's one way to wait for something: poll a condition until it holds, instead of
sleeping for a guessed time. A test waits as long as the condition takes, and fails with
what it waited for when the condition never comes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    check: Callable[[], object],
    timeout: float = 20.0,
    what: str = "condition",
    *,
    interval: float = 0.02,
) -> float:
    """Poll ``check`` until it returns something true; the seconds that took. Raises
    AssertionError naming ``what`` after ``timeout`` seconds."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what} not reached within {timeout:g} s")
        time.sleep(interval)
    return time.monotonic() - start


def polled(
    get: Callable[[], T],
    done: Callable[[T], bool],
    timeout: float = 20.0,
    *,
    interval: float = 0.02,
) -> T:
    """Call ``get`` until ``done`` holds for its value, or ``timeout`` seconds passed; the
    last value either way (the caller's assertion on it says what was wrong)."""
    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(interval)
