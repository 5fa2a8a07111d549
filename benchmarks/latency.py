"""What a slow Aurinko costs CardDAV clients: one server, nine users, the sandbox answering
after 0, 100 and 300 ms.

    python -m benchmarks.latency [--latencies 0,0.1,0.3] [--baseline REV]

For each latency, a fresh sandbox (its own process, ``--latency``) holds one account per
user, and one ``serve`` (its own process) has nine users, each with a book of their own.
One writer PUTs 40 new cards in sequence; then eight writers, one thread and one
keep-alive connection each, PUT 10 new cards each at once (up to five rounds, fewer if
they take over 10 s, each once the previous round's pushes are done), while a ninth
user, whose book holds 200 cards, reads it: GETs of random cards in a loop on one
connection and PROPFIND Depth 1 in a loop on another.
With ``--baseline REV`` a checkout of revision REV is measured the same way, right after
the working tree at each latency. Everything runs on 127.0.0.1; times are milliseconds.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from . import servers
from .baseline import REPO, checkout
from .cards import contacts
from .run import machine
from .workload import Dav, timed

READER = "reader"
WRITERS = [f"writer{n}" for n in range(1, 9)]
USERS = [READER, *WRITERS]  # the reader first: the sandbox seeds the first token's account
BOOK = "contacts"
READER_CARDS = 200
SEQUENTIAL = 40  # one writer's PUTs in a row
EACH = 10  # PUTs per writer when all eight write at once
# Rounds of the eight writers, pooled: one round at +0 ms lasts under a second, too few
# of the other user's reads for a p95. A server slow enough to spend ROUND_TIME on them
# has shown what it does, and more rounds would only stretch the run.
ROUNDS, ROUND_TIME = 5, 10.0
IDLE_GETS, IDLE_PROPFINDS = 100, 20
SLOW, FAST = 0.3, 0.0  # the latencies the targets compare


def password(user: str) -> str:
    return f"{user}-password"


def token(user: str) -> str:
    return f"latency-token-{user}-0123456789"


def ms(seconds: float) -> float:
    return seconds * 1000


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[18]


@dataclass
class Figures:
    """One server at one latency; every time in seconds."""

    put_one: list[float] = field(default_factory=list)
    put_many: list[float] = field(default_factory=list)
    wall: float = 0.0  # of the eight writers' PUTs, first start to last answer, summed
    get_idle: list[float] = field(default_factory=list)
    propfind_idle: list[float] = field(default_factory=list)
    get_busy: list[float] = field(default_factory=list)
    propfind_busy: list[float] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return len(self.put_many) / self.wall


# -- setting up ---------------------------------------------------------------------------


def write_config(work: Path, sandbox_url: str) -> Path:
    """Nine users, each with one Aurinko-backed book on an account of their own.

    ``freshness`` is an hour so that a read serves the store without a throttled
    freshness pull: the run measures what writes cost readers, not the pull."""
    users = servers.htpasswd(work, {user: password(user) for user in USERS})
    text = (
        f'[server]\nhost = "127.0.0.1"\nport = {servers.free_port()}\n'
        f'data_dir = "bridge-data"\nhtpasswd = "{users}"\n\n'
        "[sync]\ninterval = 3600\nfreshness = 3600\n"
    )
    for user in USERS:
        secret = work / f"{user}.token"
        secret.write_text(token(user))
        secret.chmod(0o600)
        text += (
            f'\n[[accounts]]\nname = "{BOOK}"\nuser = "{user}"\nbase_url = "{sandbox_url}"\n'
            f'token_file = "{secret.name}"\n'
        )
    config = work / "bridge.toml"
    config.write_text(text, encoding="utf-8")
    config.chmod(0o600)
    return config


def _busy(store: Path) -> bool:
    """Whether a book still waits for its first pull or a write waits for Aurinko."""
    if not store.exists():
        return True
    with closing(sqlite3.connect(store, timeout=10)) as conn:
        try:
            (books, unpulled), *_ = conn.execute(
                "SELECT COUNT(*), COUNT(*) - COUNT(last_pull) FROM books"
            ).fetchall()
            (pending,) = conn.execute("SELECT COUNT(*) FROM outbox WHERE failed = 0").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # the schema is not there yet
                return True
            raise
    return bool(books < len(USERS) or unpulled or pending)


def settle(store: Path, timeout: float = 180) -> None:
    """Wait for the server's background work (first pulls, pushes) to end, so that it
    does not spill into the next phase's timings."""
    deadline = time.monotonic() + timeout
    while _busy(store):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{store}: background work still running after {timeout} s")
        time.sleep(0.1)


@contextmanager
def running_bridge(latency: float, code: Path | None, name: str) -> Iterator[tuple[str, Path]]:
    """A sandbox and a settled server; yields the server's URL and its store."""
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        work = Path(tmp)
        seed = work / "seed.json"
        seed.write_text(json.dumps(contacts(READER_CARDS)), encoding="utf-8")
        tokens = [token(user) for user in USERS]
        sandbox = servers.start_sandbox(work, seed, latency=latency, tokens=tokens)
        try:
            config = write_config(work, sandbox.url)
            bridge = servers.start_bridge(work, config, code=code, name=name)
            try:
                store = work / "bridge-data" / "store.sqlite3"
                settle(store)
                yield bridge.url, store
            finally:
                bridge.stop()
        finally:
            sandbox.stop()


# -- measuring ----------------------------------------------------------------------------


def client(url: str, user: str) -> Dav:
    dav = Dav(url, user, password(user), BOOK)
    dav.propfind()  # connected and logged in before anything is timed
    return dav


def read_idle(reader: Dav, hrefs: list[str], figures: Figures) -> None:
    rng = random.Random(20)
    figures.get_idle = [timed(reader.get, rng.choice(hrefs)) for _ in range(IDLE_GETS)]
    figures.propfind_idle = [timed(reader.propfind) for _ in range(IDLE_PROPFINDS)]


def _in_thread(target: Callable[[], None], errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            target()
        except BaseException as exc:  # raised again in the main thread after the join
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def write_at_once(
    writers: list[Dav], readers: tuple[Dav, Dav], hrefs: list[str], figures: Figures, rnd: int
) -> None:
    """The eight writers' PUTs, all released at once, while the reader GETs random cards on
    one connection and lists his book on another, each in a loop until the last PUT ends."""
    getter, lister = readers
    start = threading.Barrier(len(writers) + 3)  # the writers, the two readers, this thread
    done = threading.Event()
    lock = threading.Lock()
    errors: list[BaseException] = []
    rng = random.Random(rnd)

    def write(n: int) -> None:
        start.wait()
        for i in range(EACH):
            took = timed(writers[n].put_new, f"many-{rnd}-{n}-{i}")
            with lock:
                figures.put_many.append(took)

    def get_random() -> str:
        return getter.get(rng.choice(hrefs))

    def repeat(action: Callable[[], object], into: list[float]) -> None:
        start.wait()
        while not done.is_set():
            into.append(timed(action))

    threads = [_in_thread(partial(write, n), errors) for n in range(len(writers))]
    reading = [
        _in_thread(partial(repeat, get_random, figures.get_busy), errors),
        _in_thread(partial(repeat, lister.propfind, figures.propfind_busy), errors),
    ]
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    figures.wall += time.perf_counter() - began
    done.set()
    for thread in reading:
        thread.join()
    if errors:
        raise errors[0]


def measure(url: str, store: Path) -> Figures:
    figures = Figures()
    readers = client(url, READER), client(url, READER)
    writers = [client(url, user) for user in WRITERS]
    try:
        hrefs = sorted(readers[0].propfind())
        if len(hrefs) != READER_CARDS:
            raise RuntimeError(f"the reader's book holds {len(hrefs)} cards, not {READER_CARDS}")
        read_idle(readers[0], hrefs, figures)
        figures.put_one = [timed(writers[0].put_new, f"one-{i}") for i in range(SEQUENTIAL)]
        for rnd in range(ROUNDS):
            if figures.wall > ROUND_TIME:
                break
            settle(store)  # the previous PUTs' pushes are not this round's work
            write_at_once(writers, readers, hrefs, figures, rnd)
    finally:
        for dav in (*readers, *writers):
            dav.close()
    return figures


# -- reporting ----------------------------------------------------------------------------

Row = tuple[str, Callable[[Figures], tuple[float, ...]]]
ROWS: list[Row] = [
    ("PUT, one client, median", lambda f: (ms(statistics.median(f.put_one)),)),
    (
        "PUT, 8 users at once: median / p95 / max",
        lambda f: (
            ms(statistics.median(f.put_many)),
            ms(p95(f.put_many)),
            ms(max(f.put_many)),
        ),
    ),
    ("PUTs per second, whole server (8 users at once; not ms)", lambda f: (f.throughput,)),
    ("another user's GET, idle: median", lambda f: (ms(statistics.median(f.get_idle)),)),
    (
        "another user's GET during the 8 users' PUTs: median / max",
        lambda f: (ms(statistics.median(f.get_busy)), ms(max(f.get_busy))),
    ),
    ("another user's GET during the PUTs: p95", lambda f: (ms(p95(f.get_busy)),)),
    (
        "another user's PROPFIND Depth 1 (200 cards), idle: median",
        lambda f: (ms(statistics.median(f.propfind_idle)),),
    ),
    (
        "another user's PROPFIND Depth 1 during the PUTs: median / max",
        lambda f: (ms(statistics.median(f.propfind_busy)), ms(max(f.propfind_busy))),
    ),
    (
        "another user's requests during the PUTs: GETs / PROPFINDs (count, not ms)",
        lambda f: (len(f.get_busy), len(f.propfind_busy)),
    ),
]


def cell(values: tuple[float, ...]) -> str:
    return " / ".join(f"{v:,}" if isinstance(v, int) else f"{v:,.1f}" for v in values)


def ratio(mine: tuple[float, ...], theirs: tuple[float, ...]) -> str:
    return " / ".join(f"{a / b:.2f}" if b else "-" for a, b in zip(mine, theirs, strict=True))


def by_latency_table(figures: dict[float, Figures]) -> str:
    """One server: a column per latency."""
    heads = " | ".join(f"Aurinko +{ms(latency):.0f} ms" for latency in figures)
    lines = [f"| ms unless stated | {heads} |", "|---" * (len(figures) + 1) + "|"]
    for label, values in ROWS:
        cells = " | ".join(cell(values(f)) for f in figures.values())
        lines.append(f"| {label} | {cells} |")
    return "\n".join(lines)


def side_by_side_table(latency: float, mine: Figures, theirs: Figures, rev: str) -> str:
    """One latency: the working tree, the baseline and their ratio."""
    lines = [
        f"| Aurinko +{ms(latency):.0f} ms (ms unless stated) | working tree | baseline {rev} "
        "| working tree / baseline |",
        "|---|---|---|---|",
    ]
    for label, values in ROWS:
        a, b = values(mine), values(theirs)
        lines.append(f"| {label} | {cell(a)} | {cell(b)} | {ratio(a, b)} |")
    return "\n".join(lines)


def _check(what: str, slow: float, fast: float, unit: str, passed: bool, goal: str) -> str:
    verdict = "PASS" if passed else "FAIL"
    share = slow / fast if fast else float("inf")
    return (
        f"- {verdict} {what}: {slow:,.1f} {unit} at +300 ms against {fast:,.1f} {unit} "
        f"at +0 ms ({share:.2f}x; target {goal})"
    )


def targets(figures: dict[float, Figures]) -> list[str]:
    fast, slow = figures.get(FAST), figures.get(SLOW)
    if fast is None or slow is None:
        return ["- targets need the latencies 0 and 0.3"]
    put_slow, put_fast = ROWS[0][1](slow)[0], ROWS[0][1](fast)[0]
    get_slow, get_fast = ms(p95(slow.get_busy)), ms(p95(fast.get_busy))
    return [
        _check(
            "PUT, one client, median", put_slow, put_fast, "ms", put_slow <= 2 * put_fast, "<= 2x"
        ),
        _check(
            "PUTs per second, 8 users at once",
            slow.throughput,
            fast.throughput,
            "/s",
            slow.throughput >= fast.throughput / 2,
            ">= 0.5x",
        ),
        _check(
            "another user's GET p95 during the PUTs",
            get_slow,
            get_fast,
            "ms",
            get_slow <= 2 * get_fast,
            "<= 2x",
        ),
    ]


# -- the run ------------------------------------------------------------------------------


def working_tree() -> str:
    """The commit the working tree is at, and whether it has uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "--no-optional-locks", "-C", str(REPO), *args],  # never touches the index
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + (" with uncommitted changes" if dirty else "")


def measure_all(latencies: list[float], baseline: Path | None) -> dict[str, dict[float, Figures]]:
    """Every server at every latency; at each latency the baseline right after the working
    tree, so that a change in the machine's load touches both alike."""
    found: dict[str, dict[float, Figures]] = {"working tree": {}, "baseline": {}}
    variants: list[tuple[str, Path | None, str]] = [("working tree", None, "bridge")]
    if baseline is not None:
        variants.append(("baseline", baseline, "baseline"))
    for latency in latencies:
        for label, code, name in variants:
            started = time.monotonic()
            with running_bridge(latency, code, name) as (url, store):
                found[label][latency] = measure(url, store)
            took = time.monotonic() - started
            print(f"  {label}, Aurinko +{ms(latency):.0f} ms: {took:.0f} s", flush=True)
    return found


def report(found: dict[str, dict[float, Figures]], rev: str) -> str:
    mine, theirs = found["working tree"], found["baseline"]
    if theirs:
        tables = [side_by_side_table(lat, mine[lat], theirs[lat], rev) for lat in mine]
        checks = ["Targets, working tree:", *targets(mine), "", f"Targets, baseline {rev}:"]
        return "\n\n".join(tables) + "\n\n" + "\n".join([*checks, *targets(theirs)])
    return by_latency_table(mine) + "\n\nTargets:\n" + "\n".join(targets(mine))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latencies", default="0,0.1,0.3", help="seconds, comma-separated")
    parser.add_argument("--baseline", metavar="REV", help="also measure this git revision")
    args = parser.parse_args()
    latencies = [float(s) for s in args.latencies.split(",")]
    started = time.monotonic()
    print(
        f"Run {datetime.datetime.now():%Y-%m-%d %H:%M} on {machine()}; "
        f"working tree at {working_tree()}.",
        flush=True,
    )
    with checkout(args.baseline) if args.baseline else nullcontext() as checked:
        code, rev = checked if checked else (None, "")
        found = measure_all(latencies, code)
    print(f"\n{report(found, rev)}\n\nTotal: {time.monotonic() - started:.0f} s.", flush=True)


if __name__ == "__main__":
    main()
