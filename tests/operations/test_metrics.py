"""/.bridge/metrics: a real serve, scraped while a client writes and Aurinko fails."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge.sandbox import SandboxApp
from tests.cli.serving import start_serve, stop_serve
from tests.conftest import TOKEN
from tests.folder.conftest import eventually
from tests.operations.conftest import METRICS_TOKEN, Served, card, write_config

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, token: str | None = METRICS_TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(url + ".bridge/metrics", headers=headers, timeout=30)


def samples(url: str) -> Samples:
    answer = scrape(url)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def total(found: Samples, name: str, **labels: str) -> float:
    """The sum over the samples of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in found.items() if n == name and wanted <= ls)


BOOK = {"user": "alice", "book": "work"}


def test_writes_queued_while_aurinko_is_down_show_as_outbox_depth_then_drain(
    served: Served, store_backend: str
) -> None:
    with served.client() as client:
        assert client.request("PROPFIND", "/alice/work/", headers={"Depth": "0"}).status_code == 207
        eventually(lambda: value(samples(served.url), "bridge_book_outbox_depth", **BOOK) == 0)
        served.sandbox.set_faults(error_rate=1.0, error_statuses=(503,), retry_after=0)
        for i in range(5):
            put = client.put(f"/alice/work/zq-person-{i}.vcf", content=card(f"zq-person-{i}"))
            assert put.status_code == 201

        def failed_upstream() -> bool:
            found = samples(served.url)
            return total(found, "bridge_aurinko_calls_total", outcome="5xx") > 0

        eventually(failed_upstream, timeout=60, what="a failed call to Aurinko counted")
        found = samples(served.url)
        assert value(found, "bridge_book_outbox_depth", **BOOK) == 5
        assert value(found, "bridge_book_parked_writes", **BOOK) == 0
        assert value(found, "bridge_carddav_requests_total", method="PUT", status="201") == 5
        assert total(found, "bridge_carddav_request_seconds_count", method="PUT") == 5
        assert value(found, "bridge_book_token_dead", **BOOK) == 0

        served.sandbox.set_faults(error_rate=0.0)
        eventually(
            lambda: value(samples(served.url), "bridge_book_outbox_depth", **BOOK) == 0,
            timeout=120,
            what="the queued writes sent once Aurinko is back",
        )
    found = samples(served.url)
    assert len(served.sandbox.dump(TOKEN)) == 5
    assert total(found, "bridge_aurinko_calls_total", outcome="ok") >= 5
    assert total(found, "bridge_aurinko_call_seconds_count") == total(
        found, "bridge_aurinko_calls_total"
    )
    assert value(found, "bridge_book_seconds_since_push", **BOOK) < 120
    assert value(found, "bridge_book_seconds_since_pull", **BOOK) < 3600
    assert value(found, "bridge_book_breaker_open", **BOOK) == 0
    owned = [v for (name, _), v in found.items() if name == "bridge_books_owned"]
    assert owned == ([1.0] if store_backend == "postgresql" else [])  # one instance: all
    labels = " ".join(f"{k}={v}" for _, pairs in found for k, v in pairs)
    assert "zq-person" not in labels  # labelled by book, never by a contact


@pytest.mark.parametrize("store_backend", ["sqlite"], indirect=True)
def test_the_token_is_required(served: Served) -> None:
    assert scrape(served.url, token=None).status_code == 401
    assert scrape(served.url, token="wrong").status_code == 401
    refused = scrape(served.url, token=None)
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert "bridge_" not in refused.text
    with httpx.Client(base_url=served.url, auth=("alice", "alice-pw")) as client:
        assert client.get(".bridge/metrics").status_code == 401  # a CardDAV login is not it
    assert scrape(served.url).status_code == 200


def test_a_never_pulled_book_reads_as_infinitely_old(tmp_path: Path) -> None:
    # Aurinko is nowhere: the book is never pulled, and the alert on its age must fire.
    config = write_config(tmp_path, "http://127.0.0.1:9/v1")
    process, url = start_serve(config)
    try:
        found = samples(url)
    finally:
        stop_serve(process)
    assert math.isinf(value(found, "bridge_book_seconds_since_pull", **BOOK))


def test_no_metrics_without_a_token_file(
    sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, live_sandbox, metrics=False)
    process, url = start_serve(config)
    try:
        answer = scrape(url)
    finally:
        stop_serve(process)
    assert answer.status_code in (401, 404)
    assert "bridge_" not in answer.text


@pytest.mark.parametrize("mode", [0o644, 0o640])
def test_a_token_file_others_can_read_is_refused(
    live_sandbox: str, tmp_path: Path, mode: int
) -> None:
    config = write_config(tmp_path, live_sandbox)
    (tmp_path / "metrics.token").chmod(mode)
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "serve", "--config", str(config), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "metrics" in done.stderr and "token_file" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
