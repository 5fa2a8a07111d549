"""``serve`` stopped as soon as it says it serves: a service manager's SIGTERM (or a
Ctrl-C) may come at once, and ends the process cleanly with status 0, neither killed by the
signal nor hung. (The stop handlers are in place before the banner is written; the window
this closed was too short for a test to hit reliably, so this guards the clean stop.)"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from bridge.htpasswd import set_password
from tests.cli.serving import start_serve


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_right_after_the_banner_ends_serve_cleanly(tmp_path: Path, sig: int) -> None:
    set_password(tmp_path / "users.htpasswd", "alice", "alice-pw", rounds=4)
    config = tmp_path / "bridge.toml"
    config.write_text('[server]\ndata_dir = "var"\nhtpasswd = "users.htpasswd"\n')
    config.chmod(0o600)
    for _ in range(3):
        process, _url = start_serve(config)
        process.send_signal(sig)  # while the rest of the banner is still being written
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert "Traceback" not in err, err
