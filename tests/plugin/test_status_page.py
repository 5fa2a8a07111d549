"""The status page at /.bridge/: what a user sees of their books, and its buttons, driven
in a real headless Chromium against the real server (and over plain HTTP for refusals)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from bridge.sandbox import SandboxApp
from bridge.sandbox.profiles import ProfileConfig
from tests.conftest import TOKEN
from tests.plugin.conftest import Server, card, running_server

ANN = card(
    "uid-ann",
    "Ann Example",
    "N:Example;Ann;;;",
    "NICKNAME:Annie",
    "EMAIL;TYPE=INTERNET,HOME:ann@old.example",
    "TEL;TYPE=CELL:+15550100",
)


def _phone_and_gmail_conflict(server: Server) -> int:
    """Ann's card, edited on a phone (a CardDAV PUT) while Google was out of reach: her
    phone number and nickname; and meanwhile in Gmail: her email and nickname. The push
    merges them: one conflict, on the nickname (kept for now: Gmail's), and two changes
    outside it. (Each PUT waits for its push: the ``server`` below has ``write_wait``.)"""
    assert server.alice.put("alice/work/ann.vcf", content=ANN).status_code == 201
    server.sandbox.set_faults(error_rate=1.0, error_statuses=(503,), retry_after=None)
    phone = ANN.replace("+15550100", "+15550199").replace("NICKNAME:Annie", "NICKNAME:Nan")
    assert server.alice.put("alice/work/ann.vcf", content=phone).status_code in (201, 204)
    server.sandbox.set_faults(error_rate=0.0)
    remote_id = _remote_id(server)
    current = server.remote.get(remote_id)
    gmail = {"nickName": "Nancy", "emailAddresses": [{"address": "ann@new.example"}]}
    server.remote.update(remote_id, gmail, etag=current["etag"])
    assert server.engine.push(server.book).conflicts
    (conflict,) = server.engine.outbox.conflicts(server.book.id, unresolved=True)
    assert conflict.fields == ["nickName"]
    return conflict.id


def _parked_write(server: Server) -> int:
    """A new card Aurinko refuses for good (400): a parked write."""
    server.sandbox.set_faults(error_rate=1.0, error_statuses=(400,))
    bad = card("uid-bo", "Bo Brown", "EMAIL:bo@example.org")
    assert server.alice.put("alice/work/bo.vcf", content=bad).status_code == 201
    server.sandbox.set_faults(error_rate=0.0)
    (parked,) = server.engine.outbox.failed(server.book.id)
    return parked.id


def _conflict_and_parked_write(server: Server) -> tuple[int, int]:
    return _phone_and_gmail_conflict(server), _parked_write(server)


@pytest.fixture
def server(sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path) -> Iterator[Server]:
    """Writes wait for Aurinko here (the ``write_wait`` opt-in), so that each meets the
    fault switch set for it."""
    with running_server(sandbox_app, live_sandbox, tmp_path, write_wait=30) as running:
        yield running


def _remote_id(server: Server) -> str:
    row = server.engine.store.get(server.book.id, "ann.vcf")
    assert row is not None and row.remote_id
    return row.remote_id


def _upstream_nickname(server: Server) -> str | None:
    return server.remote.get(_remote_id(server)).get("nickName")


def _login(browser: Browser, width: int, height: int = 1400) -> BrowserContext:
    return browser.new_context(
        http_credentials={"username": "alice", "password": "alice-pw"},
        viewport={"width": width, "height": height},
    )


@pytest.fixture
def alice_page(browser: Browser) -> Iterator[Page]:
    context = _login(browser, 1280)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_a_conflict_is_settled_field_by_field_and_every_other_change_is_kept(
    server: Server, alice_page: Page, live_sandbox: str, tmp_path: Path
) -> None:
    conflict_id = _phone_and_gmail_conflict(server)
    assert _upstream_nickname(server) == "Nancy"
    page = alice_page
    answer = page.goto(server.url + ".bridge/")
    assert answer is not None and "script-src" not in answer.headers["content-security-policy"]
    assert "<script" not in page.content() and live_sandbox not in page.content()
    assert str(tmp_path) not in page.content()  # nor where the losing card was filed
    book = page.locator("#book-alice-work")
    assert "Google (account1@sandbox.invalid)" in book.inner_text()

    conflict = page.locator(f"#conflict-{conflict_id}")
    assert conflict.locator("h4").inner_text() == "Ann Example"
    assert "ann.vcf" not in conflict.inner_text() and "nickName" not in conflict.inner_text()
    differing = conflict.locator("tr.differs")
    assert differing.count() == 1
    assert differing.locator("th").inner_text().startswith("Nickname")
    assert "Nan" in differing.locator("td").nth(0).inner_text()
    assert "Nancy" in differing.locator("td").nth(1).inner_text()
    assert "Theirs (Google)" in conflict.locator("thead").inner_text()
    for label, value in (("Email", "ann@new.example"), ("Phone", "+15550199")):
        row = conflict.locator("tbody tr", has=page.locator(f"th:text-is('{label}')"))
        mine, theirs = (row.locator("td").nth(i).inner_text() for i in (0, 1))
        assert value in mine and mine == theirs  # in both columns: kept either way
    _screenshots(server, page)

    page.check(f"#c{conflict_id}-nickName-mine")
    page.click(f"#settle-{conflict_id}")
    assert "Settled" in page.locator(".notice").inner_text()
    assert page.locator(f"#conflict-{conflict_id}").count() == 0

    upstream = server.remote.get(_remote_id(server))
    assert upstream["nickName"] == "Nan"
    assert [e["address"] for e in upstream["emailAddresses"]] == ["ann@new.example"]
    assert [p["number"] for p in upstream["phoneNumbers"]] == ["+15550199"]
    served = server.alice.get("alice/work/ann.vcf").text
    assert "NICKNAME:Nan\r\n" in served and "ann@new.example" in served
    assert "+15550199" in served and "ann@old.example" not in served


def _screenshots(server: Server, page: Page) -> None:
    """``BRIDGE_SCREENSHOTS=DIR``: the page at desktop and phone width, as docs/ shows it
    (status-page.png, status-page-phone.png)."""
    folder = os.environ.get("BRIDGE_SCREENSHOTS")
    if not folder:
        return
    _parked_write(server)
    assert page.context.browser is not None
    for name, width, height in (("status-page", 1280, 720), ("status-page-phone", 390, 844)):
        context = _login(page.context.browser, width, height)
        try:
            shown = context.new_page()
            shown.goto(server.url + ".bridge/")
            shown.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
        finally:
            context.close()


def test_a_card_deleted_in_gmail_while_edited_on_the_phone_comes_back_with_a_click(
    server: Server, alice_page: Page
) -> None:
    assert server.alice.put("alice/work/ann.vcf", content=ANN).status_code == 201
    server.sandbox.set_faults(error_rate=1.0, error_statuses=(503,), retry_after=None)
    phone = ANN.replace("NICKNAME:Annie", "NICKNAME:Nan")
    assert server.alice.put("alice/work/ann.vcf", content=phone).status_code in (201, 204)
    server.sandbox.set_faults(error_rate=0.0)
    server.remote.delete(_remote_id(server))
    server.engine.sync(server.book)
    (conflict,) = server.engine.outbox.conflicts(server.book.id, unresolved=True)
    alice_page.goto(server.url + ".bridge/")
    shown = alice_page.locator(f"#conflict-{conflict.id}")
    assert shown.locator("h4").inner_text() == "Ann Example"
    assert "Deleted in Google" in shown.inner_text()
    nickname = shown.locator("tr.differs", has=alice_page.locator("th:text-is('Nickname')"))
    assert "Nan" in nickname.locator("td").nth(0).inner_text()
    assert "deleted" in nickname.locator("td").nth(1).inner_text()
    assert alice_page.locator(f"#theirs-{conflict.id}").inner_text() == "Delete it"
    alice_page.click(f"#mine-{conflict.id}")
    assert "Settled" in alice_page.locator(".notice").inner_text()
    assert "NICKNAME:Nan" in server.alice.get("alice/work/ann.vcf").text
    assert [c.get("nickName") for c in server.sandbox.dump(TOKEN)] == ["Nan"]


def test_the_page_fits_a_phone(server: Server, browser: Browser) -> None:
    conflict_id, _ = _conflict_and_parked_write(server)
    context = _login(browser, 390, 844)
    try:
        page = context.new_page()
        page.goto(server.url + ".bridge/")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        nickname = page.locator(f"#conflict-{conflict_id} tr.differs")
        assert "Mine (your devices)" in nickname.inner_text()  # each value says whose it is
    finally:
        context.close()


def test_a_refused_write_names_the_contact_and_is_given_up_with_a_click(
    server: Server, alice_page: Page
) -> None:
    parked_id = _parked_write(server)
    alice_page.goto(server.url + ".bridge/")
    parked = alice_page.locator(f"#parked-{parked_id}")
    assert parked.locator("h4").inner_text() == "Adding Bo Brown"
    assert "Google refused it" in parked.inner_text() and "400" in parked.inner_text()
    assert "bo.vcf" not in parked.inner_text()
    parked.locator("button[value=drop]").click()
    assert "given up" in alice_page.locator(".notice").inner_text()
    assert alice_page.locator(f"#parked-{parked_id}").count() == 0
    assert server.engine.outbox.failed(server.book.id) == []


def test_a_parked_write_is_sent_again_from_the_page(server: Server, alice_page: Page) -> None:
    parked_id = _parked_write(server)
    alice_page.goto(server.url + ".bridge/")
    alice_page.locator(f"#parked-{parked_id} button[value=retry]").click()
    assert "sent again" in alice_page.locator(".notice").inner_text()
    server.engine.push(server.book)
    names = [c.get("name", {}).get("displayName") for c in server.sandbox.dump(TOKEN)]
    assert "Bo Brown" in names


def test_fields_the_provider_refused_are_named_in_words(server: Server, alice_page: Page) -> None:
    server.sandbox.set_profile(ProfileConfig("office365"))  # keeps three emails at most
    emails = [f"EMAIL;TYPE=INTERNET:cy{i}@example.org" for i in range(4)]
    assert server.alice.put("alice/work/cy.vcf", content=card("uid-cy", "Cy Doe", *emails))
    row = server.engine.store.get(server.book.id, "cy.vcf")
    assert row is not None and row.held
    alice_page.goto(server.url + ".bridge/")
    held = alice_page.locator(".held")
    assert held.locator("h4").inner_text() == "Cy Doe"
    assert "Microsoft 365 did not take these" in held.inner_text()
    assert "Email" in held.inner_text() and "cy3@example.org" in held.inner_text()
    assert "emailAddresses" not in held.inner_text()


def _form_token(client: httpx.Client) -> str:
    page = client.get(".bridge/")
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf" content="([0-9a-f]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_the_page_needs_a_login_and_shows_a_user_only_their_books(server: Server) -> None:
    _conflict_and_parked_write(server)
    anonymous = httpx.get(server.url + ".bridge/")
    assert anonymous.status_code == 401 and "Basic" in anonymous.headers["WWW-Authenticate"]
    wrong = httpx.get(server.url + ".bridge/", auth=("alice", "nope"))
    assert wrong.status_code == 401
    bob = server.bob.get(".bridge/")
    assert bob.status_code == 200 and "alice" not in bob.text and "Ann" not in bob.text
    assert server.alice.get(".bridge").status_code == 301


def test_another_user_cannot_act_on_a_book_that_is_not_theirs(server: Server) -> None:
    conflict_id, parked_id = _conflict_and_parked_write(server)
    token = _form_token(server.bob)
    for path, field in (
        (f"conflicts/{conflict_id}", "settle=mine"),
        (f"parked/{parked_id}", "action=drop"),
    ):
        answer = server.bob.post(
            f".bridge/{path}",
            content=f"csrf={token}&{field}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 404, answer.text
    assert len(server.engine.outbox.conflicts(server.book.id, unresolved=True)) == 1
    assert len(server.engine.outbox.failed(server.book.id)) == 1


@pytest.mark.parametrize(
    ("headers", "with_token"),
    [
        ({}, False),  # no form token: a page of another site cannot know it
        ({"Origin": "http://evil.example"}, True),
        ({"Sec-Fetch-Site": "cross-site"}, True),
    ],
)
def test_forms_from_elsewhere_are_refused(
    server: Server, headers: dict[str, str], with_token: bool
) -> None:
    conflict_id, _ = _conflict_and_parked_write(server)
    token = _form_token(server.alice) if with_token else "0" * 64
    answer = server.alice.post(
        f".bridge/conflicts/{conflict_id}",
        content=f"csrf={token}&settle=mine",
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )
    assert answer.status_code == 403, answer.text
    assert _upstream_nickname(server) == "Nancy"
    assert len(server.engine.outbox.conflicts(server.book.id, unresolved=True)) == 1


def test_settling_twice_says_so_instead_of_writing_again(server: Server) -> None:
    conflict_id, _ = _conflict_and_parked_write(server)
    token = _form_token(server.alice)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    first = server.alice.post(
        f".bridge/conflicts/{conflict_id}", content=f"csrf={token}&settle=theirs", headers=form
    )
    assert first.status_code == 303
    second = server.alice.post(
        f".bridge/conflicts/{conflict_id}", content=f"csrf={token}&settle=mine", headers=form
    )
    assert second.status_code == 409 and "settled" in second.text
    assert _upstream_nickname(server) == "Nancy"
