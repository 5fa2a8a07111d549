"""``aurinko-bridge serve --config FILE`` as a real process, for tests that need one."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BRIDGE = [sys.executable, "-m", "bridge"]


def start_serve(config: Path, verbose: int = 0) -> tuple[subprocess.Popen[str], str]:
    """The process and its CardDAV root URL (from its first line), on a free port;
    ``verbose`` as the number of ``-v`` (2: debug lines too)."""
    process = subprocess.Popen(
        [*BRIDGE, *["-v"] * verbose, "serve", "--config", str(config), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    assert process.stdout is not None
    banner = process.stdout.readline()
    found = re.search(r"CardDAV server at (http://127\.0\.0\.1:\d+/)", banner)
    if found is None:
        process.kill()
        _, err = process.communicate(timeout=60)
        raise AssertionError(banner + err)
    return process, found.group(1)


def stop_serve(process: subprocess.Popen[str]) -> str:
    """SIGTERM, as Ctrl-C or a service manager would; the process's stderr."""
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    return err


@contextmanager
def serving(config: Path) -> Iterator[str]:
    """The server's URL while it runs; it must stop cleanly, without a traceback."""
    process, url = start_serve(config)
    try:
        yield url
    finally:
        err = stop_serve(process)
    assert "Traceback" not in err, err
    assert "argon2" not in err, err  # Radicale's notice about a module we never need
