"""The status page's words for contacts, fields, refused writes and conflicts (no server:
the functions that turn an Aurinko contact into what a person reads)."""

from __future__ import annotations

from bridge.statuspage import people
from bridge.store import Conflict, OutboxOp
from bridge.store.kinds import ConflictOutcome

ANN = {
    "name": {"displayName": "Ann Example", "givenName": "Ann", "familyName": "Example"},
    "nickName": "Annie",
    "emailAddresses": [{"address": "ann@old.example", "type": "home"}],
    "phoneNumbers": [{"number": "+15550100", "type": "workMobile"}],
    "birthday": "1990-04-01",
    "company": {"name": "Example Ltd", "jobTitle": "Buyer"},
}


def _update(base: dict, local: dict) -> OutboxOp:
    return OutboxOp(7, 1, "ann.vcf", "update", "r1", "e1", base, local, False, 3, "400", True)


def test_labels_are_words_a_person_uses() -> None:
    assert people.label_of("emailAddresses") == "Email"
    assert people.label_of("name.givenName") == "First name"
    assert people.label_of("company") == "Organisation"
    assert people.label_of("photo.content") == "Photo"
    assert people.labels(["phoneNumbers", "birthday", "emailAddresses"]) == [
        "Email",
        "Phone",
        "Birthday",
    ]
    assert people.provider_words("Office365") == "Microsoft 365"
    assert people.provider_words(None) == "your online account"


def test_a_contact_is_named_by_what_it_has() -> None:
    assert people.person(ANN) == "Ann Example"
    assert people.person({"name": {"givenName": "Bo", "familyName": "Brown"}}) == "Bo Brown"
    assert people.person({"company": {"name": "Acme"}}) == "Acme"
    assert people.person({"emailAddresses": [{"address": "x@y.org", "type": "work"}]}) == (
        "x@y.org"
    )
    assert people.person({}) == "A contact without a name"


def test_a_refused_change_names_the_contact_and_its_fields() -> None:
    local = {**ANN, "nickName": "Nan", "birthday": "1990-04-02"}
    assert people.refused_write(_update(ANN, local), local) == (
        "Changing Nickname and Birthday of Ann Example"
    )
    deleted = OutboxOp(8, 1, "ann.vcf", "delete", "r1", None, None, None, False, 1, "x", True)
    assert people.refused_write(deleted, ANN) == "Removing Ann Example"
    assert people.refusal("PATCH contacts/r1: HTTP 400 bad [request abc-1]") == "HTTP 400 bad"


def test_held_fields_read_as_labels_and_values() -> None:
    held = {"emailAddresses": [{"address": f"a{i}@x.org"} for i in range(2)], "birthday": "--0414"}
    assert people.held_fields(held) == [("Email", "a0@x.org; a1@x.org"), ("Birthday", "--0414")]
    company = {"company": {"name": "Acme", "jobTitle": "Buyer"}}
    assert people.held_fields(company) == [("Organisation", "Acme; Buyer")]


def test_both_columns_hold_the_changes_outside_the_conflict() -> None:
    mine = {**ANN, "nickName": "Nan", "phoneNumbers": [{"number": "+15550199"}]}
    merged = {**mine, "nickName": "Nancy", "emailAddresses": [{"address": "ann@new.example"}]}
    conflict = Conflict(1, 1, "ann.vcf", "remote-wins", ["nickName"], mine)
    view = people.conflict_view(conflict, merged, mine, "Google")
    rows = {row.label: row for row in view.rows}
    assert view.name == "Ann Example" and view.kept == "theirs" and not view.whole
    assert [r.label for r in view.rows if r.differs] == ["Nickname"]
    assert rows["Nickname"].mine == ["Nan"] and rows["Nickname"].theirs == ["Nancy"]
    assert rows["Email"].mine == rows["Email"].theirs == ["ann@new.example"]
    assert rows["Phone"].mine == ["+15550199 (other)"] and rows["Organisation"].mine == [
        "Example Ltd"
    ]
    assert rows["Phone"].theirs == ["+15550199 (other)"]
    assert view.taking({"nickName": "mine"}) == ["nickName"]
    assert view.taking({"nickName": "theirs"}) == []
    assert view.theirs == "Theirs (Google)"


def test_a_folder_conflict_offers_each_field_that_differs() -> None:
    book = {**ANN, "birthday": "1990-04-02"}
    folder = {**ANN, "nickName": "Nan"}
    conflict = Conflict(2, 1, "ann.vcf", "folder-edit-won", [], book)
    view = people.conflict_view(conflict, folder, book, "Google")
    assert [r.label for r in view.rows if r.choice] == ["Nickname", "Birthday"]
    assert view.kept == "mine" and view.mine == "Mine (the folder)"
    assert view.taking({"birthday": "theirs"}) == ["birthday"]
    alike = people.conflict_view(Conflict(3, 1, "a.vcf", "folder-edit-won", [], ANN), ANN, ANN, "")
    assert not any(r.differs for r in alike.rows)


def test_every_conflict_outcome_has_words() -> None:
    """A new outcome cannot reach the page as 'Changed in two places at once.'"""
    for outcome in ConflictOutcome:
        conflict = Conflict(1, 1, "ann.vcf", outcome, [], {"nickName": "Al"})
        view = people.conflict_view(conflict, ANN, {**ANN, "nickName": "Al"}, "Google")
        assert outcome in people.OUTCOMES
        assert view.what == people.OUTCOMES[outcome].what.format(provider="Google")
        assert "two places at once" not in view.what
