"""Delta tokens as the vendor's client keeps them, and what a pull does with answers it does
not expect: a token only from a run's last page, a full resync (not a failure every run)
for an unknown 400 or a last page without its token, and photos fetched only for contacts
that changed, a failed one not failing its page. Aurinko is scripted here (httpx's
MockTransport), since the sandbox answers none of this."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from bridge.aurinko import AurinkoClient, RetryPolicy
from bridge.config import StoreConfig
from bridge.sync import SyncEngine
from tests.sync.conftest import FAST_RETRY, no_sleep

Answer = Callable[[httpx.Request], httpx.Response]


def person(n: int, etag: str = "e1", photo: bool = False) -> dict:
    return {"id": f"c{n}", "etag": etag, "name": {"displayName": f"P{n}"}, "hasPhoto": photo}


def page(records: list[dict], *, next_page: str | None = None, delta: str | None = None) -> dict:
    body: dict = {"records": records, "length": len(records)}
    if next_page:
        body["nextPageToken"] = next_page
    if delta:
        body["nextDeltaToken"] = delta
    return body


class FakeAurinko:
    """Answers by (path, token); every request is logged as (path, token)."""

    def __init__(self) -> None:
        self.pages: dict[tuple[str, str], Answer | dict] = {}
        self.starts = 0
        self.log: list[tuple[str, str]] = []
        self.photo_fails: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v1/")
        token = request.url.params.get("deltaToken") or request.url.params.get("pageToken") or ""
        self.log.append((path, token))
        if path == "contacts/sync":
            self.starts += 1
            n = self.starts
            body = {"ready": True, "syncUpdatedToken": f"u0-{n}", "syncDeletedToken": f"d0-{n}"}
            return httpx.Response(200, json=body)
        if path.startswith("contacts/") and "/sync/" not in path:
            contact_id = path.split("/")[-1]
            if contact_id in self.photo_fails:
                return httpx.Response(503, json={"code": "busy", "message": "later"})
            photo = {"mimeType": "image/png", "content": "iVBORw0KGgo="}
            return httpx.Response(200, json={**person(int(contact_id[1:])), "photo": photo})
        answer = self.pages.get((path.removeprefix("contacts/sync/"), token))
        if answer is None:  # nothing scripted: an empty last page
            return httpx.Response(200, json=page([], delta=f"{token}+"))
        return answer(request) if callable(answer) else httpx.Response(200, json=answer)

    def photo_gets(self) -> int:
        return sum(1 for path, _ in self.log if "/sync" not in path and path != "contacts/sync")


def engine_for(
    tmp_path: Path, fake: FakeAurinko, store: StoreConfig | None
) -> tuple[SyncEngine, int]:
    engine = SyncEngine(tmp_path / "bridge", store=store)
    client = AurinkoClient(
        "t", "http://aurinko.invalid/v1", retry=FAST_RETRY, sleep=no_sleep,
        transport=httpx.MockTransport(fake),
    )  # fmt: skip
    return engine, engine.attach("alice", "work", client).id


def names(engine: SyncEngine, book_id: int) -> list[str]:
    return sorted(
        i.vcard.split("FN:")[1].split("\r\n")[0] for i in engine.store.list_items(book_id)
    )


def test_a_token_from_a_page_before_the_last_is_never_kept(
    tmp_path: Path, store_config: StoreConfig | None
) -> None:
    fake = FakeAurinko()
    fake.pages[("updated", "u0-1")] = page([person(1)], delta="u1")
    engine, book_id = engine_for(tmp_path, fake, store_config)
    assert engine.pull(engine.store.book_by_id(book_id)).error is None

    # A page that carries both tokens, then a page that fails for the whole run.
    fake.pages[("updated", "u1")] = page([person(2)], next_page="p2", delta="u-early")
    fake.pages[("updated", "p2")] = lambda r: httpx.Response(500, json={"code": "oops"})
    fake.pages[("updated", "u-early")] = page([], delta="u-early+")  # would skip c3 for good
    report = engine.pull(engine.store.book_by_id(book_id))
    assert report.error is not None
    assert engine.store.book_by_id(book_id).updated_token == "u1"

    fake.pages[("updated", "p2")] = page([person(3)], delta="u2")
    assert engine.pull(engine.store.book_by_id(book_id)).error is None
    assert names(engine, book_id) == ["P1", "P2", "P3"]
    assert engine.store.book_by_id(book_id).updated_token == "u2"
    engine.close()


def test_an_unknown_400_on_sync_falls_back_to_a_full_resync(
    tmp_path: Path, store_config: StoreConfig | None
) -> None:
    fake = FakeAurinko()
    fake.pages[("updated", "u0-1")] = page([person(1), person(2)], delta="u1")
    engine, book_id = engine_for(tmp_path, fake, store_config)
    engine.pull(engine.store.book_by_id(book_id))

    weird = httpx.Response(400, json={"code": "badRequest", "message": "Something unforeseen"})
    fake.pages[("updated", "u1")] = lambda r: weird
    fake.pages[("updated", "u0-2")] = page([person(2), person(3)], delta="u2")
    report = engine.pull(engine.store.book_by_id(book_id))
    assert report.error is None and report.full_resync
    assert names(engine, book_id) == ["P2", "P3"]  # c1 gone upstream: reconciled away

    fake.pages[("updated", "u2")] = page([person(4)], delta="u3")
    report = engine.pull(engine.store.book_by_id(book_id))
    assert report.error is None and not report.full_resync  # back to normal runs
    assert names(engine, book_id) == ["P2", "P3", "P4"]
    engine.close()


def test_a_last_page_without_its_token_does_not_fail_every_run(
    tmp_path: Path, store_config: StoreConfig | None
) -> None:
    fake = FakeAurinko()
    fake.pages[("updated", "u0-1")] = page([person(1)], delta="u1")
    engine, book_id = engine_for(tmp_path, fake, store_config)
    engine.pull(engine.store.book_by_id(book_id))

    fake.pages[("updated", "u1")] = page([person(2)])  # no nextPageToken, no nextDeltaToken
    fake.pages[("updated", "u0-2")] = page([person(1), person(2)], delta="u2")
    report = engine.pull(engine.store.book_by_id(book_id))
    assert report.error is None and report.full_resync
    assert names(engine, book_id) == ["P1", "P2"]
    assert engine.store.book_by_id(book_id).updated_token == "u2"
    engine.close()


def test_photos_are_fetched_only_for_changed_contacts_and_a_failure_waits(
    tmp_path: Path, store_config: StoreConfig | None
) -> None:
    fake = FakeAurinko()
    everyone = [person(n, photo=True) for n in range(1, 6)]
    fake.pages[("updated", "u0-1")] = page(everyone, delta="u1")
    fake.photo_fails = {"c5"}
    engine, book_id = engine_for(tmp_path, fake, store_config)
    report = engine.pull(engine.store.book_by_id(book_id))
    assert report.error is None and report.created == 5  # c5's photo failed, not its page
    before = fake.photo_gets()

    # The same contacts again (a full resync): only the one whose photo is missing is read.
    fake.photo_fails = set()
    fake.pages[("updated", "u1")] = lambda r: httpx.Response(
        410, json={"code": "syncToken.expired"}
    )
    fake.pages[("updated", "u0-2")] = page(everyone, delta="u2")
    assert engine.pull(engine.store.book_by_id(book_id)).error is None
    fetched = [token for path, token in fake.log[-20:] if path.startswith("contacts/c")]
    assert fake.photo_gets() - before == 1, fetched
    row = engine.store.get_by_remote_id(book_id, "c5")
    assert row is not None and "PHOTO" in row.vcard
    engine.close()


def test_an_interrupted_first_sync_resumes_from_its_last_page(
    tmp_path: Path, store_config: StoreConfig | None
) -> None:
    """1,000 contacts, 200 with photos, in 10 pages; the service rate-limits page 4 and
    page 8 once each for longer than a run is willing to wait. Every run goes on from the
    page it stopped at: no page is listed twice, no photo fetched twice."""
    fake = FakeAurinko()
    everyone = [person(n, photo=n % 5 == 0) for n in range(1000)]
    tokens = ["u0-1", *(f"p{i}" for i in range(1, 10))]
    for i, token in enumerate(tokens):
        chunk = everyone[i * 100 : (i + 1) * 100]
        last = i == len(tokens) - 1
        fake.pages[("updated", token)] = page(
            chunk, next_page=None if last else tokens[i + 1], delta="u1" if last else None
        )
    limited = {"p4": 1, "p8": 1}

    def rate_limited(token: str, body: dict) -> Answer:
        def answer(request: httpx.Request) -> httpx.Response:
            if limited[token]:
                limited[token] -= 1
                return httpx.Response(429, json={"code": "rateLimited", "message": "slow down"})
            return httpx.Response(200, json=body)

        return answer

    for token in limited:
        fake.pages[("updated", token)] = rate_limited(token, fake.pages[("updated", token)])  # type: ignore[arg-type]
    engine, book_id = engine_for(tmp_path, fake, store_config)
    engine.clients[book_id]._retry = RetryPolicy(max_attempts=1)  # a run gives up at once
    reports = [engine.pull(engine.store.book_by_id(book_id)) for _ in range(3)]
    assert [r.error is None for r in reports] == [False, False, True]
    assert engine.store.count(book_id) == 1000
    assert fake.starts == 1  # one listing, resumed twice
    listed = [token for path, token in fake.log if path.endswith("/updated")]
    assert listed == [*tokens[:5], "p4", "p5", "p6", "p7", "p8", "p8", "p9"]
    assert fake.photo_gets() == 200
    assert engine.store.book_by_id(book_id).updated_token == "u1"
    engine.close()
