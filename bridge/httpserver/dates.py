"""HTTP dates (RFC 9110 5.6.7), as ``email.utils.formatdate(usegmt=True)`` writes them in a
third of its time: a listing writes one per card, and every answer one more."""

from __future__ import annotations

import time

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_current: tuple[int, str] = (-1, "")  # the second last asked about, and its date


def http_date(timestamp: float) -> str:
    t = time.gmtime(timestamp)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def now() -> str:
    """The current second's date, formatted once per second."""
    global _current
    second = int(time.time())
    if _current[0] != second:
        _current = (second, http_date(second))
    return _current[1]
