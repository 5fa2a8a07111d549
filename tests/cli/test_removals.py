"""Fields removed on the phone (a CardDAV PUT through ``serve``) stay removed upstream and on
the card, however Aurinko reads a removal: as documented, with ``null`` ignored, with empty
values ignored, with ``null`` refused. Where no form works, the card keeps the removal and
``status`` and the status page say so (issue 22, point 1)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.htpasswd import set_password
from bridge.sandbox import ProfileConfig, SandboxApp
from tests.cli.serving import BRIDGE, serving
from tests.conftest import TOKEN, write_bridge_config

BOOK = "/alice/work/"
ALICE = ("alice", "alice-pw")
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
FULL = (
    "NOTE:call after six",
    "BDAY:1980-02-03",
    "URL:https://ann.example.com/",
    "NICKNAME:Annie",
    f"PHOTO;ENCODING=b;TYPE=PNG:{PNG}",
)
REMOVED = {"notes": "NOTE", "birthday": "BDAY", "urls": "URL", "nickName": "NICKNAME"}


def _card(*extra: str) -> str:
    lines = ["BEGIN:VCARD", "VERSION:3.0", "UID:ann", "FN:Ann Smith", "N:Smith;Ann;;;", *extra]
    return "\r\n".join([*lines, "END:VCARD"]) + "\r\n"


def _config(tmp_path: Path, url: str) -> Path:
    set_password(tmp_path / "users.htpasswd", "alice", "alice-pw", rounds=4)
    config = write_bridge_config(tmp_path, url)
    text = config.read_text().replace("[server]\n", '[server]\nhtpasswd = "users.htpasswd"\n')
    # Each write waits for its push: the test follows it to Aurinko without polling.
    config.write_text(text.replace("[sync]\n", "[sync]\nwrite_wait = 30\n"))
    return config


def _upstream(sandbox_app: SandboxApp) -> dict[str, Any]:
    (stored,) = sandbox_app.dump(TOKEN)
    return {key: value for key, value in stored.items() if value}


def _remove_on_the_phone(config: Path, sandbox_app: SandboxApp) -> tuple[str, str]:
    """PUT the full card, then the card without its NOTE, BDAY, URL, NICKNAME and PHOTO;
    the card served afterwards and the status page."""
    with serving(config) as url, httpx.Client(base_url=url, auth=ALICE, timeout=60) as client:
        assert client.request("PROPFIND", BOOK, headers={"Depth": "1"}).status_code == 207
        assert client.put(BOOK + "ann.vcf", content=_card(*FULL)).status_code == 201
        stored = _upstream(sandbox_app)
        assert set(REMOVED) <= set(stored) and stored["hasPhoto"], stored
        assert client.put(BOOK + "ann.vcf", content=_card()).status_code == 204
        return client.get(BOOK + "ann.vcf").text, client.get(".bridge/").text


SWITCHES: dict[str, dict[str, Any]] = {
    "as-documented": {},
    "null-ignored": {"null_ignored": True},
    "empty-unchanged": {"empty_unchanged": True},
    "strict": {"strict_body": True},
}


@pytest.mark.parametrize("switch", SWITCHES)
def test_removed_on_the_phone_stays_removed_upstream_and_on_the_card(
    sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path, switch: str
) -> None:
    sandbox_app.set_profile(ProfileConfig("generic", **SWITCHES[switch]))
    config = _config(tmp_path, live_sandbox)
    served, page = _remove_on_the_phone(config, sandbox_app)
    stored = _upstream(sandbox_app)
    assert not set(REMOVED) & set(stored) and not stored.get("hasPhoto"), stored
    assert not any(f"\n{prop}" in served for prop in [*REMOVED.values(), "PHOTO"]), served
    assert "would not take" not in page
    # A restart (a full read of the store) and a pull do not bring anything back.
    with serving(config) as url, httpx.Client(base_url=url, auth=ALICE, timeout=60) as client:
        again = client.get(BOOK + "ann.vcf").text
    assert not any(f"\n{prop}" in again for prop in [*REMOVED.values(), "PHOTO"]), again


@pytest.mark.parametrize(
    "switches",
    [
        {"null_ignored": True, "empty_unchanged": True},
        {"strict_body": True, "empty_unchanged": True},
    ],
    ids=["null-and-empty-ignored", "empty-ignored-null-refused"],
)
def test_a_removal_aurinko_keeps_is_held_on_the_card_and_shown(
    sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path, switches: dict[str, bool]
) -> None:
    sandbox_app.set_profile(ProfileConfig("generic", **switches))
    config = _config(tmp_path, live_sandbox)
    served, page = _remove_on_the_phone(config, sandbox_app)
    stored = _upstream(sandbox_app)
    assert set(REMOVED) <= set(stored) and stored["hasPhoto"]  # Aurinko kept them all
    assert not any(f"\n{prop}" in served for prop in [*REMOVED.values(), "PHOTO"]), served
    assert "would not take" in page
    assert "Note removed here, but" in page and "did not remove it" in page
    status = subprocess.run(
        [*BRIDGE, "status", "--config", str(config), "--offline"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    for field in [*REMOVED, "photo"]:
        assert f"ann.vcf: {field} removed on the card, but Aurinko" in status.stdout, status.stdout
