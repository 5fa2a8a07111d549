"""Apple's Contacts read vCard 3.0 only and never ask for a version: a card another client
wrote in 4.0 reaches them as 3.0 (same ETag, so their writes still match), while every
other client gets it as written."""

from __future__ import annotations

from tests.plugin.conftest import Server, card, report

IOS = "iOS/17.2 (21C62) dataaccessd/1.0"
MACOS = "macOS/14.2 (23C64) AddressBookCore/2664"
SYNC = (
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:" '
    'xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:sync-token/><D:sync-level>1</D:sync-level>'
    "<D:prop><D:getetag/><CR:address-data/></D:prop></D:sync-collection>"
)


def test_apple_clients_get_3_0_and_others_the_card_as_written(server: Server) -> None:
    url = "/alice/work/four.vcf"
    sent = card("four", "Four Oh", "BDAY:19410105", "GENDER:F", version="4.0")
    assert server.alice.put(url, content=sent).status_code == 201
    plain = server.alice.get(url)
    assert "VERSION:4.0" in plain.text and "BDAY:19410105" in plain.text
    for agent in (IOS, MACOS):
        apple = server.alice.get(url, headers={"User-Agent": agent})
        assert "VERSION:3.0" in apple.text and "BDAY:1941-01-05" in apple.text, agent
        assert apple.headers["ETag"] == plain.headers["ETag"]
        listed = server.alice.request(
            "REPORT",
            "/alice/work/",
            headers={"Depth": "1", "User-Agent": agent, "Content-Type": "application/xml"},
            content=SYNC,
        )
        assert listed.status_code == 207 and "VERSION:4.0" not in listed.text, agent
    assert "VERSION:4.0" in report(server.alice, "/alice/work/", SYNC).text
