"""Each card is stored and served in the vCard version it was written in (issue 12): the
engine, the folder export, and the merge of a change that comes from Aurinko."""

from __future__ import annotations

from pathlib import Path

from bridge.folder import FolderMirror
from tests.sync.conftest import Env

# A vCard 4.0 card with what 3.0 writes differently (BDAY, RELATED) and 4.0-only properties.
ADA_4 = (
    "BEGIN:VCARD\r\n"
    "VERSION:4.0\r\n"
    "UID:uid-ada\r\n"
    "FN:Ada Lovelace\r\n"
    "N:Lovelace;Ada;;;\r\n"
    "KIND:individual\r\n"
    "GENDER:F\r\n"
    "LANG:en\r\n"
    "BDAY:19411205\r\n"
    "RELATED;TYPE=spouse;VALUE=text:William King\r\n"
    "EMAIL;TYPE=work:ada@example.com\r\n"
    "END:VCARD\r\n"
)
BOB_3 = (
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "UID:uid-bob\r\n"
    "FN:Bob Beta\r\n"
    "N:Beta;Bob;;;\r\n"
    "BDAY:1941-01-05\r\n"
    "EMAIL;TYPE=INTERNET,WORK:bob@example.com\r\n"
    "END:VCARD\r\n"
)


def test_a_card_is_stored_in_the_version_it_was_written_in(env: Env) -> None:
    ada = env.engine.put(env.book, "ada.vcf", ADA_4)  # the account serves 3.0
    bob = env.engine.put(env.book, "bob.vcf", BOB_3)
    assert (ada.version, ada.vcard) == ("4.0", ADA_4)
    assert (bob.version, bob.vcard) == ("3.0", BOB_3)
    # the other version is rendered on request, from the stored contact
    as_3 = env.engine.render(env.book, "ada.vcf", "3.0") or ""
    assert "VERSION:3.0" in as_3 and "BDAY:1941-12-05" in as_3 and "\r\nRELATED" not in as_3
    assert env.engine.render(env.book, "ada.vcf", "4.0") == ADA_4


def test_a_local_book_never_converts(env: Env) -> None:
    book = env.engine.create_local_book("alice", "family", {})
    assert env.engine.put(book, "ada.vcf", ADA_4).vcard == ADA_4
    assert env.engine.put(book, "bob.vcf", BOB_3).vcard == BOB_3


def test_2_1_and_versionless_cards_are_served_as_3_0(env: Env) -> None:
    book = env.engine.attach("alice", "work", env.engine.clients[env.book.id], "4.0")
    versionless = "BEGIN:VCARD\r\nUID:uid-none\r\nFN:No Version\r\nEND:VCARD\r\n"
    old = "BEGIN:VCARD\r\nVERSION:2.1\r\nUID:uid-old\r\nN:Old;Card\r\nFN:Old Card\r\nEND:VCARD\r\n"
    for href, text in (("none.vcf", versionless), ("old.vcf", old)):
        row = env.engine.put(book, href, text)
        assert row.version == "3.0" and "\r\nVERSION:3.0\r\n" in row.vcard, row.vcard


def test_a_remote_change_is_merged_in_the_cards_own_version(env: Env) -> None:
    env.engine.put(env.book, "ada.vcf", ADA_4)
    row = env.engine.store.get(env.book.id, "ada.vcf")
    assert row is not None and row.remote_id is not None  # pushed
    current = env.remote.get(row.remote_id)
    env.remote.update(row.remote_id, {"nickName": "Enchantress"}, etag=current["etag"])
    env.engine.pull(env.book)
    merged = env.card("ada.vcf")
    assert merged.startswith("BEGIN:VCARD\r\nVERSION:4.0\r\n")
    assert "NICKNAME:Enchantress" in merged
    for line in ("BDAY:19411205", "KIND:individual", "RELATED;TYPE=spouse;VALUE=text:William King"):
        assert f"\r\n{line}\r\n" in merged


def test_cards_born_in_aurinko_take_the_accounts_version(env: Env) -> None:
    env.remote.create({"name": {"displayName": "Born Remote"}, "birthday": "1941-01-05"})
    env.engine.pull(env.book)
    (item,) = env.engine.store.list_items(env.book.id)
    assert item.version == "3.0" and "\r\nVERSION:3.0\r\n" in item.vcard


def test_export_writes_each_card_in_its_own_version(env: Env, tmp_path: Path) -> None:
    env.engine.put(env.book, "ada.vcf", ADA_4)
    env.engine.put(env.book, "bob.vcf", BOB_3)
    own = tmp_path / "own"
    FolderMirror(env.engine, env.book, own).export_all()
    assert (own / "ada.vcf").read_bytes().decode() == ADA_4
    assert (own / "bob.vcf").read_bytes().decode() == BOB_3
    as_3 = tmp_path / "as-3"
    FolderMirror(env.engine, env.book, as_3, "3.0").export_all()
    assert "VERSION:3.0" in (as_3 / "ada.vcf").read_text(encoding="utf-8")
    assert (as_3 / "bob.vcf").read_bytes().decode() == BOB_3
