"""A provider limit refuses one field (Office 365 keeps three emails): the rest of the
contact still reaches Aurinko, the card keeps the field (through later remote changes too),
it is reported, and it is not sent again until the user changes it."""

from __future__ import annotations

import pytest

from tests.conftest import TOKEN
from tests.sync.conftest import Env, vcard

FOUR = [f"EMAIL;TYPE=INTERNET:p{i}@example.com" for i in range(4)]


@pytest.mark.parametrize("profile", ["office365"])
def test_a_refused_field_stays_in_the_card_and_the_rest_goes_up(env: Env) -> None:
    engine, book, sandbox_app = env.engine, env.book, env.sandbox
    engine.put(book, "ann.vcf", vcard("uid-ann", "Ann", "NICKNAME:Annie", *FOUR), push=False)
    report = engine.sync(book)
    assert report.error is None and engine.outbox.failed(book.id) == []
    assert any("refused emailAddresses" in line for line in report.skipped), report.skipped
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
    assert report.error is None and any("refused birthday" in s for s in report.skipped)
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
    assert any("refused birthday" in s for s in report.skipped), report.skipped
    (stored,) = sandbox_app.dump(TOKEN)
    assert stored["notes"] == "hi" and not stored.get("birthday")
    assert "circa 1800" in env.card("cy.vcf")
