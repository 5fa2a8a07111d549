"""What Radicale's validator is shown of a PUT body, and that its checks still hold."""

from __future__ import annotations

from radicale_plugin.wsgi import STAND_IN_LIMIT, for_radicale
from tests.conftest import TOKEN
from tests.plugin.conftest import Server, card

LONG_UID = "urn:uuid:" + "0123456789abcdef" * 6


def _folded(text: str) -> str:
    lines = []
    for line in text.split("\r\n"):
        while len(line) > 75:
            lines.append(line[:75])
            line = " " + line[75:]
        lines.append(line)
    return "\r\n".join(lines)


def test_one_card_is_shown_as_its_version_and_uid_lines() -> None:
    body = _folded(card(LONG_UID, "Ann", "NOTE:" + "x" * 300, "item1.EMAIL:a@example.com"))
    assert for_radicale(body.encode()) == (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{LONG_UID}\r\nFN:-\r\nEND:VCARD\r\n".encode()
    )


def test_other_bodies_go_whole_with_a_placeholder_fn_if_needed() -> None:
    two = (card("a", "A") + card("b", "B")).encode()
    assert for_radicale(two) == two
    no_uid = b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;Jane;;;\r\nEND:VCARD\r\n"
    assert for_radicale(no_uid) == no_uid.replace(b"END:VCARD", b"FN:-\r\nEND:VCARD")
    huge = card("big", "Big", "NOTE:" + "x" * STAND_IN_LIMIT).encode()
    assert for_radicale(huge) == huge


def test_folded_uid_keeps_uid_checks_and_preconditions(server: Server) -> None:
    url = f"{server.book_url}long.vcf"
    text = _folded(card(LONG_UID, "Long", "NOTE:first"))
    created = server.alice.put(url, content=text, headers={"If-None-Match": "*"})
    assert created.status_code == 201, created.text
    etag = server.alice.get(url).headers["ETag"]
    second = server.alice.put(f"{server.book_url}other.vcf", content=text)
    assert second.status_code == 409 and "no-uid-conflict" in second.text
    changed = text.replace("NOTE:first", "NOTE:second")
    other_uid = changed.replace(LONG_UID[-10:], "ffffffffff")
    assert server.alice.put(url, content=other_uid, headers={"If-Match": etag}).status_code == 409
    assert server.alice.put(url, content=changed, headers={"If-Match": '"old"'}).status_code == 412
    assert server.alice.put(url, content=changed, headers={"If-Match": etag}).status_code == 204
    assert "NOTE:second" in server.alice.get(url).text
    assert [c["notes"] for c in server.sandbox.dump(TOKEN)] == ["second"]


def test_two_cards_in_one_put_are_refused(server: Server) -> None:
    body = card("a", "A") + card("b", "B")
    response = server.alice.put(f"{server.book_url}two.vcf", content=body)
    assert response.status_code == 400
    assert server.engine.store.count(server.book.id) == 0
