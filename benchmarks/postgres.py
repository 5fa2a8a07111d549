"""The bridge on PostgreSQL beside the bridge on SQLite, and one instance beside two.

    python -m benchmarks.postgres [--n 10000] [--reps 3] [--clients 8] [--each 40]

1. The same operations as ``benchmarks.run`` at N cards, on each store (ratio PG / SQLite).
2. Eight concurrent clients (PUTs of new cards, then GETs) spread over one instance and over
   two instances sharing one PostgreSQL store (throughput, two / one).

Everything runs on 127.0.0.1: a PostgreSQL server started here (Debian's binaries, as for
the tests), the sandbox, and each bridge instance in its own process.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import httpx

from bridge.config import StoreConfig

from . import servers
from .cards import contacts, new_card
from .run import Results, machine, measure_server, pull
from .workload import Dav


def _with_store(config: Path, store: StoreConfig | None, port: int | None = None) -> Path:
    """A copy of the bridge configuration on ``store`` (and ``port``), beside it."""
    text = config.read_text(encoding="utf-8")
    if port is not None:
        text = text.replace(text.split("port = ")[1].split("\n")[0], str(port), 1)
    suffix = "sqlite"
    if store is not None:
        assert store.password_file is not None
        text += f'\n[store]\nurl = "{store.url}"\npassword_file = "{store.password_file}"\n'
        suffix = "pg"
    copy = config.with_name(f"bridge-{suffix}-{port or 'main'}.toml")
    copy.write_text(text, encoding="utf-8")
    copy.chmod(0o600)
    return copy


def side_by_side(n: int, reps: int, work: Path, store: StoreConfig) -> str:
    seed = work / "seed.json"
    seed.write_text(json.dumps(contacts(n)), encoding="utf-8")
    sandbox = servers.start_sandbox(work, seed)
    measured: dict[str, Results] = {}
    pulls: dict[str, float] = {}
    try:
        base = servers.bridge_config(work, sandbox.url)
        for name, backend in (("SQLite", None), ("PostgreSQL", store)):
            config = _with_store(base, backend)
            pulled, seconds = pull(config)
            pulls[name] = pulled / seconds
            server = servers.start_bridge(work, config)
            try:
                dav = Dav(server.url, servers.USER, servers.PASSWORD, "contacts")
                measured[name] = measure_server(dav, reps, n, name.lower())
                dav.close()
            finally:
                server.stop()
    finally:
        sandbox.stop()
    lite_rate, pg_rate = pulls["SQLite"], pulls["PostgreSQL"]
    lines = [
        f"### N = {n:,}: the store on PostgreSQL beside SQLite",
        "",
        f"Initial pull: SQLite {lite_rate:,.0f} contacts/s, PostgreSQL {pg_rate:,.0f}"
        f" contacts/s (ratio {pg_rate / lite_rate:.2f})",
        "",
        "| operation (ms: median (min-max)) | SQLite | PostgreSQL | PostgreSQL / SQLite |",
        "|---|---|---|---|",
    ]
    lite, pg = measured["SQLite"], measured["PostgreSQL"]
    for op in lite:
        lines.append(
            f"| {op} | {lite[op].show()} | {pg[op].show()} | "
            f"{pg[op].median / lite[op].median:.2f} |"
        )
    return "\n".join(lines)


def _spread(urls: list[str], clients: int, work: Callable[[httpx.Client, int], int]) -> float:
    """``clients`` threads, client k on ``urls[k % len(urls)]``; operations per second."""
    done: list[int] = []
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        auth = (servers.USER, servers.PASSWORD)
        with httpx.Client(base_url=urls[k % len(urls)], auth=auth, timeout=600) as http:
            try:
                done.append(work(http, k))
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.perf_counter() - start
    if errors:
        raise errors[0]
    return sum(done) / took


def scale_out(work: Path, store: StoreConfig, clients: int, each: int) -> str:
    seed = work / "seed.json"
    seed.write_text(json.dumps(contacts(1000)), encoding="utf-8")
    sandbox = servers.start_sandbox(work, seed)
    rates: dict[str, tuple[float, float]] = {}
    try:
        base = servers.bridge_config(work, sandbox.url)
        pull(_with_store(base, store))
        for count in (1, 2):
            with ExitStack() as stack:
                urls = []
                for _ in range(count):
                    config = _with_store(base, store, servers.free_port())
                    server = servers.start_bridge(work, config)
                    stack.callback(server.stop)
                    urls.append(server.url + f"{servers.USER}/contacts/")
                rates[f"{count}"] = (_puts(urls, clients, each, count), _gets(urls, clients, each))
    finally:
        sandbox.stop()
    one, two = rates["1"], rates["2"]
    return "\n".join(
        [
            f"### {clients} concurrent clients over one and over two instances (PostgreSQL)",
            "",
            "| operations per second | one instance | two instances | two / one |",
            "|---|---|---|---|",
            f"| PUT new card ({clients} x {each}) | {one[0]:,.0f} | {two[0]:,.0f} "
            f"| {two[0] / one[0]:.2f} |",
            f"| GET card ({clients} x {each * 5}) | {one[1]:,.0f} | {two[1]:,.0f} "
            f"| {two[1] / one[1]:.2f} |",
        ]
    )


def _puts(urls: list[str], clients: int, each: int, tag: int) -> float:
    def work(http: httpx.Client, k: int) -> int:
        for i in range(each):
            href = f"scale{tag}-{k}-{i}.vcf"
            answer = http.put(href, content=new_card(f"scale{tag}-{k}-{i}", f"Scale {k} {i}"))
            if answer.status_code != 201:
                raise RuntimeError(f"PUT {href}: {answer.status_code} {answer.text[:200]}")
        return each

    return _spread(urls, clients, work)


def _gets(urls: list[str], clients: int, each: int) -> float:
    hrefs = [f"scale1-{k}-{i}.vcf" for k in range(clients) for i in range(each)]

    def work(http: httpx.Client, k: int) -> int:
        rng = random.Random(k)
        for _ in range(each * 5):
            answer = http.get(rng.choice(hrefs))
            if answer.status_code != 200:
                raise RuntimeError(f"GET: {answer.status_code}")
        return each * 5

    return _spread(urls, clients, work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="cards in the book")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each read")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--each", type=int, default=40, help="PUTs per client")
    args = parser.parse_args()
    from tests.postgres import PostgresServer  # the server the tests start, reused

    print(f"Run on {machine()}.", flush=True)
    postgres = PostgresServer()
    postgres.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-pg-") as tmp:
            work = Path(tmp) / "side"
            work.mkdir()
            print(side_by_side(args.n, args.reps, work, postgres.new_store()), flush=True)
            work = Path(tmp) / "scale"
            work.mkdir()
            print(scale_out(work, postgres.new_store(), args.clients, args.each), flush=True)
    finally:
        postgres.stop()


if __name__ == "__main__":
    main()
