"""Cards no client can parse are refused with 400 and the mapping's reason, and nothing is
stored; a group on BEGIN/END, which RFC 2426 allows, is accepted."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import Server

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


def test_a_group_on_begin_and_end_is_accepted(server: Server) -> None:
    body = (
        "home.BEGIN:VCARD\r\nhome.VERSION:3.0\r\nhome.UID:grouped\r\nhome.FN:Grouped\r\n"
        "home.END:VCARD\r\n"
    )
    assert server.alice.put("/alice/work/grouped.vcf", content=body).status_code == 201
    assert "FN:Grouped" in server.alice.get("/alice/work/grouped.vcf").text
