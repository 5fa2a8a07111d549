"""Photos checked by Aurinko's answer (issue 22, point 5): when a write sets a photo and the
answer has none (Aurinko ignoring ``photo`` on write, as it may: Graph and Google set photos
through endpoints of their own), the card keeps its photo, the photo is held and reported,
and it is not sent again until the user changes it. A removal Aurinko ignores is held the
same way (the card keeps the removal)."""

from __future__ import annotations

from pathlib import Path

from bridge.config import AccountConfig, Config
from bridge.sandbox import ProfileConfig
from bridge.status import collect
from bridge.sync.reports import words
from tests.conftest import TOKEN
from tests.sync.conftest import Env, vcard

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
PHOTO = f"PHOTO;ENCODING=b;TYPE=PNG:{PNG}"


def _held(env: Env, tmp_path: Path) -> list[tuple[str, str, bool]]:
    config = Config(
        data_dir=tmp_path,
        accounts=[AccountConfig(name="work", user="alice", base_url=env.url)],
    )
    (status,) = collect(env.engine, config, check_tokens=False)
    return [(h.href, h.field, h.removal) for h in status.held]


def test_a_photo_aurinko_does_not_take_stays_on_the_card_and_is_shown(
    env: Env, tmp_path: Path
) -> None:
    engine, book = env.engine, env.book
    env.sandbox.set_profile(ProfileConfig(photo_ignored=True))
    engine.put(book, "ann.vcf", vcard("uid-ann", "Ann", PHOTO), push=False)
    report = engine.sync(book)
    assert report.error is None and engine.outbox.failed(book.id) == []
    assert any("did not take the photo" in line for line in map(words, report.skipped)), (
        report.skipped
    )
    (stored,) = env.sandbox.dump(TOKEN)
    assert stored["hasPhoto"] is False
    assert PNG[:40] in env.card("ann.vcf").replace("\r\n ", "")
    assert _held(env, tmp_path) == [("ann.vcf", "photo", False)]

    # An edit of something else neither sends the photo again nor loses it.
    text = env.card("ann.vcf").replace("FN:Ann", "FN:Ann\r\nNICKNAME:A")
    engine.put(book, "ann.vcf", text, push=False)
    report = engine.sync(book)
    assert report.error is None and report.skipped == [], report.skipped
    assert "PHOTO" in env.card("ann.vcf") and "NICKNAME:A" in env.card("ann.vcf")

    # Aurinko takes photos again; the user sets one: it goes up, nothing is held.
    env.sandbox.set_profile(ProfileConfig())
    gif = "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
    text = env.card("ann.vcf").replace("\r\n ", "")
    text = text.replace(text[text.index("PHOTO") : text.index("\r\n", text.index("PHOTO"))],
                        f"PHOTO;ENCODING=b;TYPE=GIF:{gif}")  # fmt: skip
    engine.put(book, "ann.vcf", text, push=False)
    assert engine.sync(book).error is None
    (stored,) = env.sandbox.dump(TOKEN)
    assert stored["hasPhoto"] is True and stored["photo"]["content"] == gif
    assert _held(env, tmp_path) == []


def test_a_photo_removal_aurinko_ignores_is_held_and_the_card_keeps_it_removed(
    env: Env, tmp_path: Path
) -> None:
    engine, book = env.engine, env.book
    engine.put(book, "bo.vcf", vcard("uid-bo", "Bo", PHOTO))
    env.sandbox.set_profile(ProfileConfig(photo_ignored=True))
    engine.put(book, "bo.vcf", vcard("uid-bo", "Bo"), push=False)
    report = engine.sync(book)
    assert any("did not remove photo" in line for line in map(words, report.skipped)), (
        report.skipped
    )
    (stored,) = env.sandbox.dump(TOKEN)
    assert stored["hasPhoto"] is True and "PHOTO" not in env.card("bo.vcf")
    assert _held(env, tmp_path) == [("bo.vcf", "photo", True)]
    engine.pull(book)
    assert "PHOTO" not in env.card("bo.vcf")
