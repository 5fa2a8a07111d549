"""An account whose ``user`` is not in the users file (a typo, most often) is a book nobody
can log in to: ``serve`` says so at start, naming the closest user (issue 23, point 7)."""

from __future__ import annotations

from pathlib import Path

import httpx

from bridge import htpasswd
from tests.cli.serving import start_serve, stop_serve
from tests.cli.test_user import config_with_users


def test_serve_warns_of_an_account_nobody_can_log_in_to(tmp_path: Path, live_sandbox: str) -> None:
    config = config_with_users(tmp_path, live_sandbox)
    config.write_text(config.read_text().replace('user = "alice"', 'user = "alcie"'))
    users = tmp_path / "users.htpasswd"
    htpasswd.add_user(users, "alice", "alice-pw", rounds=4)
    process, url = start_serve(config)
    try:
        # Served all the same: adding the user while serve runs is the fix, no restart.
        htpasswd.add_user(users, "alcie", "alcie-pw", rounds=4)
        found = httpx.request(
            "PROPFIND", f"{url}alcie/work/", headers={"Depth": "0"}, auth=("alcie", "alcie-pw")
        )
        assert found.status_code == 207
    finally:
        err = stop_serve(process)
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert warnings == [
        f"aurinko-bridge: warning: account alcie/work: no user alcie in {users}, so nobody"
        ' can log in to this book (did you mean user = "alice"?); fix its user in'
        f" {config} or add the user: aurinko-bridge user add alcie"
    ], err


def test_no_warning_when_every_account_has_its_user(tmp_path: Path, live_sandbox: str) -> None:
    config = config_with_users(tmp_path, live_sandbox)
    htpasswd.add_user(tmp_path / "users.htpasswd", "alice", "alice-pw", rounds=4)
    process, _ = start_serve(config)
    err = stop_serve(process)
    assert "warning: account" not in err, err
