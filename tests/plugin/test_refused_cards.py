"""Cards no client can parse are refused with 400 and the mapping's reason, and nothing is
stored; a group on BEGIN/END, which RFC 2426 allows, is accepted."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bridge.htpasswd import set_password
from tests.cli.serving import start_serve, stop_serve
from tests.plugin.conftest import Server, mkcol_book

HEAD = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bad\r\nFN:Bad Card\r\n"
BROKEN = {
    "unclosed-component": (HEAD + "BEGIN:VEVENT\r\nSUMMARY:x\r\nEND:VCARD\r\n", "never closed"),
    "mismatched-end": (HEAD + "BEGIN:VEVENT\r\nEND:VTODO\r\nEND:VCARD\r\n", "does not close"),
    "no-colon": (HEAD + "NOTE without a colon\r\nEND:VCARD\r\n", "colon"),
    "second-begin": (HEAD + "BEGIN:VCARD\r\nFN:Inner\r\nEND:VCARD\r\n", "second BEGIN:VCARD"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_card_no_client_can_parse_is_refused_with_its_reason(server: Server, case: str) -> None:
    body, reason = BROKEN[case]
    answer = server.alice.put("/alice/work/bad.vcf", content=body)
    assert answer.status_code == 400
    assert reason in answer.text, answer.text
    assert server.alice.get("/alice/work/bad.vcf").status_code == 404


@pytest.mark.parametrize("body", ["garbage", "", "FN:No card around me\r\n"])
def test_a_body_that_holds_no_card_is_refused_with_a_reason(server: Server, body: str) -> None:
    answer = server.alice.put("/alice/work/none.vcf", content=body)
    assert answer.status_code == 400
    assert "holds no vCard" in answer.text, answer.text
    # Radicale's own checks come first: another user's book stays a refusal of the user.
    other = server.bob.put("/alice/work/none.vcf", content=body)
    assert other.status_code == 403 and "holds no vCard" not in other.text, other.text


def test_a_group_on_begin_and_end_is_accepted(server: Server) -> None:
    body = (
        "home.BEGIN:VCARD\r\nhome.VERSION:3.0\r\nhome.UID:grouped\r\nhome.FN:Grouped\r\n"
        "home.END:VCARD\r\n"
    )
    assert server.alice.put("/alice/work/grouped.vcf", content=body).status_code == 201
    assert "FN:Grouped" in server.alice.get("/alice/work/grouped.vcf").text


def test_serve_logs_a_refused_card_as_one_warning_without_a_traceback(tmp_path: Path) -> None:
    """The README's troubleshooting: the client gets the reason, the log one line with it
    (``serving`` fails on a traceback in serve's output)."""
    set_password(tmp_path / "users.htpasswd", "alice", "alice-pw", rounds=4)
    config = tmp_path / "bridge.toml"
    config.write_text('[server]\ndata_dir = "var"\nhtpasswd = "users.htpasswd"\n', encoding="utf-8")
    config.chmod(0o600)
    process, url = start_serve(config)
    try:
        with httpx.Client(base_url=url, auth=("alice", "alice-pw"), timeout=30) as client:
            mkcol_book(client, "alice/private/")
            body, reason = BROKEN["no-colon"]
            answer = client.put("alice/private/bad.vcf", content=body)
            assert answer.status_code == 400 and reason in answer.text
    finally:
        err = stop_serve(process)
    assert "WARNING radicale: Bad PUT request on '/alice/private/bad.vcf' (upload): line 5:" in err
    assert "Traceback" not in err, err
