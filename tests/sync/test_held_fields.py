"""A provider limit refuses one field (Office 365 keeps three emails): the rest of the
contact still reaches Aurinko, the card keeps the field (through later remote changes too),
it is reported, and it is not sent again until the user changes it."""

from __future__ import annotations

import pytest

from bridge.status import BookStatus, TokenCheck, TokenState, book_status, held_words
from bridge.sync.reports import words
from tests.conftest import TOKEN
from tests.sync.conftest import Env, vcard

FOUR = [f"EMAIL;TYPE=INTERNET:p{i}@example.com" for i in range(4)]


@pytest.mark.parametrize("profile", ["office365"])
def test_a_refused_field_stays_in_the_card_and_the_rest_goes_up(env: Env) -> None:
    engine, book, sandbox_app = env.engine, env.book, env.sandbox
    engine.put(book, "ann.vcf", vcard("uid-ann", "Ann", "NICKNAME:Annie", *FOUR), push=False)
    report = engine.sync(book)
    assert report.error is None and engine.outbox.failed(book.id) == []
    assert any("refused emailAddresses" in line for line in map(words, report.skipped)), (
        report.skipped
    )
    (stored,) = sandbox_app.dump(TOKEN)
    assert stored["nickName"] == "Annie" and not stored.get("emailAddresses")

    def card() -> str:
        row = engine.store.get(book.id, "ann.vcf")
        assert row is not None
        return row.vcard

    assert all(f"p{i}@example.com" in card() for i in range(4))

    # Another device edits the contact: the pull renders Aurinko's version, and the
    # emails Aurinko refused are still in the card.
    env.remote.update(stored["id"], {"nickName": "Annie R"}, etag=stored["etag"])
    engine.pull(book)
    assert "NICKNAME:Annie R" in card()
    assert all(f"p{i}@example.com" in card() for i in range(4))

    # An edit of something else sends that alone: no refusal, nothing reported.
    text = card().replace("NICKNAME:Annie R", "NICKNAME:Ann")
    engine.put(book, "ann.vcf", text, push=False)
    report = engine.sync(book)
    assert report.error is None and report.skipped == [], report.skipped
    (stored,) = sandbox_app.dump(TOKEN)
    assert stored["nickName"] == "Ann" and not stored.get("emailAddresses")

    # The user trims the emails to three: now they fit, and go up.
    three = "".join(line for line in card().splitlines(True) if "p3@" not in line)
    engine.put(book, "ann.vcf", three, push=False)
    assert engine.sync(book).error is None
    (stored,) = sandbox_app.dump(TOKEN)
    assert len(stored["emailAddresses"]) == 3
    row = engine.store.get(book.id, "ann.vcf")
    assert row is not None and not row.held


@pytest.mark.parametrize("profile", ["office365"])
def test_a_year_less_birthday_office_365_refuses_stays_in_the_card(env: Env) -> None:
    engine, book, sandbox_app = env.engine, env.book, env.sandbox
    engine.put(book, "bo.vcf", vcard("uid-bo", "Bo", "BDAY:--0414", "NOTE:hi"), push=False)
    report = engine.sync(book)
    assert report.error is None and any("refused birthday" in s for s in map(words, report.skipped))
    (stored,) = sandbox_app.dump(TOKEN)
    assert stored["notes"] == "hi" and not stored.get("birthday")
    row = engine.store.get(book.id, "bo.vcf")
    assert row is not None and "BDAY:--0414" in row.vcard


@pytest.mark.parametrize("profile", ["google"])
def test_a_birthday_google_refuses_in_its_own_words_stays_in_the_card(env: Env) -> None:
    """Google's refusal names ``birthdays[0].date`` in a ``google.rpc.BadRequest`` field
    violation, relayed in ``originalError``: the birthday is held, the rest goes up."""
    engine, book, sandbox_app = env.engine, env.book, env.sandbox
    card = vcard("uid-cy", "Cy", "BDAY;VALUE=text:circa 1800", "NOTE:hi")
    engine.put(book, "cy.vcf", card, push=False)
    report = engine.sync(book)
    assert report.error is None and engine.outbox.failed(book.id) == []
    assert any("refused birthday" in s for s in map(words, report.skipped)), report.skipped
    (stored,) = sandbox_app.dump(TOKEN)
    assert stored["notes"] == "hi" and not stored.get("birthday")
    assert "circa 1800" in env.card("cy.vcf")


def _status(env: Env) -> BookStatus:
    return book_status(env.engine, env.book, None, TokenCheck(TokenState.OK))


@pytest.mark.parametrize("profile", ["google"])
@pytest.mark.parametrize(
    ("line", "field", "kept"),
    [
        # The People API keeps a note in biographies[0].value, at most 1024 characters.
        ("NOTE:" + "n" * 1100, "notes", "n" * 60),
        ("NICKNAME:" + "k" * 1100, "nickName", "k" * 60),
        # google.type.Date: 29 February of a year that has none is no date.
        ("BDAY:2023-02-29", "birthday", "BDAY:2023-02-29"),
    ],
    ids=["long-note", "long-nickname", "no-such-day"],
)
def test_a_value_google_refuses_is_held_and_the_rest_goes_up(
    env: Env, line: str, field: str, kept: str
) -> None:
    """Google's field violation (``biographies[0].value``, ``birthdays[0].date``) is read
    back to Aurinko's field: that field is held, the rest of the contact reaches Google, the
    card keeps the value, and ``status`` lists it."""
    engine, book, sandbox_app = env.engine, env.book, env.sandbox
    engine.put(book, "di.vcf", vcard("uid-di", "Di", line, "ORG:Acme"), push=False)
    report = engine.sync(book)
    assert report.error is None and engine.outbox.failed(book.id) == []
    assert any(f"refused {field}" in s for s in map(words, report.skipped)), report.skipped
    (stored,) = sandbox_app.dump(TOKEN)
    assert stored["company"]["name"] == "Acme" and field not in stored
    assert kept in env.card("di.vcf")
    (held,) = _status(env).held
    assert (held.href, held.field, held.removal) == ("di.vcf", field, False)
    assert held_words(held).startswith(f"{field} refused by Aurinko; the card keeps it")
