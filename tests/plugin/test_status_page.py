"""The status page at /.bridge/: what a user sees of their books, and its buttons, driven
in a real headless Chromium against the real server (and over plain HTTP for refusals)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page

from bridge.sandbox import SandboxApp
from tests.conftest import TOKEN
from tests.plugin.conftest import Server, card, running_server


def _conflict_and_parked_write(server: Server) -> tuple[int, int]:
    """A nickname edited here while Aurinko failed every call and meanwhile on another
    device (kept: Aurinko's; the local card filed away), and a new card Aurinko refuses
    for good (400): one conflict and one parked write, both made by the fault switches
    (each PUT waits for its push: the ``server`` below has ``write_wait``)."""
    assert server.alice.put("alice/work/ann.vcf", content=card("uid-ann", "Ann")).status_code == 201
    server.sandbox.set_faults(error_rate=1.0, error_statuses=(503,), retry_after=None)
    edit = card("uid-ann", "Ann", "NICKNAME:Annie")
    assert server.alice.put("alice/work/ann.vcf", content=edit).status_code in (201, 204)
    server.sandbox.set_faults(error_rate=0.0)
    row = server.engine.store.get(server.book.id, "ann.vcf")
    assert row is not None and row.remote_id
    current = server.remote.get(row.remote_id)
    server.remote.update(row.remote_id, {"nickName": "Nan"}, etag=current["etag"])
    assert server.engine.push(server.book).conflicts
    server.sandbox.set_faults(error_rate=1.0, error_statuses=(400,))
    assert server.alice.put("alice/work/bad.vcf", content=card("uid-bad", "Bad")).status_code == 201
    server.sandbox.set_faults(error_rate=0.0)
    (conflict,) = server.engine.outbox.conflicts(server.book.id, unresolved=True)
    (parked,) = server.engine.outbox.failed(server.book.id)
    return conflict.id, parked.id


@pytest.fixture
def server(sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path) -> Iterator[Server]:
    """Writes wait for Aurinko here (the ``write_wait`` opt-in), so that each meets the
    fault switch set for it."""
    with running_server(sandbox_app, live_sandbox, tmp_path, write_wait=30) as running:
        yield running


def _upstream_nickname(server: Server) -> str | None:
    row = server.engine.store.get(server.book.id, "ann.vcf")
    assert row is not None and row.remote_id
    return server.remote.get(row.remote_id).get("nickName")


@pytest.fixture
def alice_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        http_credentials={"username": "alice", "password": "alice-pw"},
        viewport={"width": 900, "height": 1400},
    )
    try:
        yield context.new_page()
    finally:
        context.close()


def test_a_conflict_is_settled_with_a_click_and_the_choice_reaches_aurinko(
    server: Server, alice_page: Page
) -> None:
    conflict_id, parked_id = _conflict_and_parked_write(server)
    assert _upstream_nickname(server) == "Nan"
    page = alice_page
    page.goto(server.url + ".bridge/")
    book = page.locator("#book-alice-work")
    assert "Token" in book.inner_text() and "works" in book.inner_text()
    parked = page.locator(f"#parked-{parked_id}")
    assert "bad.vcf" in parked.inner_text() and "400" in parked.inner_text()
    conflict = page.locator(f"#conflict-{conflict_id}")
    sides = conflict.locator(".side pre")
    assert "NICKNAME:Nan" in sides.nth(0).inner_text()  # the book serves Aurinko's edit
    assert "NICKNAME:Annie" in sides.nth(1).inner_text()  # the local edit that lost
    if os.environ.get("BRIDGE_SCREENSHOT"):  # docs/status-page.png is made this way
        page.screenshot(path=os.environ["BRIDGE_SCREENSHOT"], full_page=True)

    page.click(f"#keep-other-{conflict_id}")
    assert "written back" in page.locator(".notice").inner_text()
    assert page.locator(f"#conflict-{conflict_id}").count() == 0
    assert _upstream_nickname(server) == "Annie"
    assert "NICKNAME:Annie" in server.alice.get("alice/work/ann.vcf").text

    page.locator(f"#parked-{parked_id} button[value=drop]").click()
    assert "given up" in page.locator(".notice").inner_text()
    assert page.locator(f"#parked-{parked_id}").count() == 0
    assert server.engine.outbox.failed(server.book.id) == []


def test_a_parked_write_is_sent_again_from_the_page(server: Server, alice_page: Page) -> None:
    _, parked_id = _conflict_and_parked_write(server)
    alice_page.goto(server.url + ".bridge/")
    alice_page.locator(f"#parked-{parked_id} button[value=retry]").click()
    assert "sent to Aurinko again" in alice_page.locator(".notice").inner_text()
    server.engine.push(server.book)
    names = [c.get("name", {}).get("displayName") for c in server.sandbox.dump(TOKEN)]
    assert "Bad" in names


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
    assert bob.status_code == 200 and "alice" not in bob.text and "ann.vcf" not in bob.text
    assert server.alice.get(".bridge").status_code == 301


def test_another_user_cannot_act_on_a_book_that_is_not_theirs(server: Server) -> None:
    conflict_id, parked_id = _conflict_and_parked_write(server)
    token = _form_token(server.bob)
    for path, field in (
        (f"conflicts/{conflict_id}", "keep=other"),
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
        content=f"csrf={token}&keep=other",
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )
    assert answer.status_code == 403, answer.text
    assert _upstream_nickname(server) == "Nan"
    assert len(server.engine.outbox.conflicts(server.book.id, unresolved=True)) == 1


def test_settling_twice_says_so_instead_of_writing_again(server: Server) -> None:
    conflict_id, _ = _conflict_and_parked_write(server)
    token = _form_token(server.alice)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    first = server.alice.post(
        f".bridge/conflicts/{conflict_id}", content=f"csrf={token}&keep=current", headers=form
    )
    assert first.status_code == 303
    second = server.alice.post(
        f".bridge/conflicts/{conflict_id}", content=f"csrf={token}&keep=other", headers=form
    )
    assert second.status_code == 409 and "settled" in second.text
    assert _upstream_nickname(server) == "Nan"
