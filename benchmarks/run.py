"""Side-by-side benchmark: the bridge (with its Aurinko round trips to the sandbox) against
stock Radicale 3.9 (multifilesystem) holding the same cards.

    python -m benchmarks.run [--sizes 1000,10000] [--reps 5] [--write-readme] [--baseline REV]

Everything runs on 127.0.0.1; each server is its own process. ``--baseline REV`` also
measures the bridge of git revision REV ("baseline"), on a sandbox and a store of its own.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from . import servers
from .baseline import checkout
from .cards import contacts
from .floor import floor_rate
from .workload import Dav, timed

README = Path(__file__).with_name("README.md")
START, END = "<!-- results -->", "<!-- /results -->"
PUTS = 40  # sequential PUTs of each kind: a single-digit-ms median needs many samples


@dataclass
class Sample:
    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def show(self, scale: float = 1000) -> str:
        lo, hi = min(self.values) * scale, max(self.values) * scale
        digits = 2 if self.median * scale < 1 else 1  # a GET's CPU is a fraction of a ms
        return f"{self.median * scale:,.{digits}f} ({lo:,.{digits}f}-{hi:,.{digits}f})"


Results = dict[str, Sample]


def measure_server(
    dav: Dav, reps: int, n: int, tag: str, cpu: Callable[[], float] | None = None
) -> Results:
    """Each operation's wall time as the client sees it; with ``cpu`` (the server process's
    CPU seconds so far), also the server's CPU per GET and per PUT, which the client's own
    cost (httpx spends most of a GET's time here) does not blur."""
    results: Results = {}

    def add(name: str, value: float) -> None:
        results.setdefault(name, Sample()).values.append(value)

    def per_request(name: str, count: int, action: Callable[[], object]) -> None:
        """Run ``action`` (``count`` requests) and add its server CPU per request."""
        if cpu is None:
            action()
            return
        before = cpu()
        action()
        add(f"{name}, server CPU per request", (cpu() - before) / count)

    add("PROPFIND Depth 1, first (cold)", timed(dav.propfind))
    etags = dav.propfind()
    hrefs = sorted(etags)
    rng = random.Random(7)
    for _ in range(reps):
        add("PROPFIND Depth 1 (getetag)", timed(dav.propfind))
        add("multiget all, batches of 100", timed(dav.multiget, hrefs))
        add("sync-collection, initial", timed(dav.sync))
        per_request(
            "GET", 200, lambda: add("200 random GETs", timed(dav.random_gets, hrefs, 200, rng))
        )
    for r in range(min(reps, 3)):
        token, _ = dav.sync()
        for href in rng.sample(hrefs, max(1, n // 100)):  # 1 % of the cards change
            text = dav.get(href)
            new_etag = dav.put_update(href, etags[href], text.replace("NOTE:", f"NOTE:r{r} ", 1))
            etags[href] = new_etag or dav.etag(href)
        add("sync-collection, incremental after 1 %", timed(dav.sync, token))

    def puts_new() -> None:
        for i in range(PUTS):
            add("PUT new card", timed(dav.put_new, f"{tag}-new-{i}"))

    def puts_update(texts: dict[str, str]) -> None:
        for href, text in texts.items():
            changed = text.replace("NOTE:", "NOTE:u ", 1)
            add("PUT If-Match (update)", timed(dav.put_update, href, etags[href], changed))

    per_request("PUT new", PUTS, puts_new)
    texts = {href: dav.get(href) for href in rng.sample(hrefs, min(PUTS, len(hrefs)))}
    per_request("PUT If-Match", len(texts), partial(puts_update, texts))
    for latency in dav.concurrent_puts(f"{tag}-conc"):
        add("PUT new, 8 concurrent clients", latency)
    # Last, as it may raise the peak memory: every card in one multiget, as some clients ask.
    add("multiget all, one request", timed(dav.multiget, hrefs, len(hrefs)))
    return results


def pull(config: Path, code: Path | None = None) -> tuple[int, float]:
    """The initial pull, with the working tree's code or with the checkout ``code``'s."""
    # For a checkout, this file's pull.py runs as a script (-P: its folder is not put on
    # sys.path), so the checkout needs no benchmarks of its own, only its bridge.
    args = (
        ["-m", "benchmarks.pull"]
        if code is None
        else ["-P", str(Path(__file__).parent / "pull.py")]
    )
    out = subprocess.run(
        [sys.executable, *args, str(config)],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
        cwd=code,
        env=servers.code_env(code),
    ).stdout.split()
    return int(out[0]), float(out[1])


def served_cards(work: Path) -> dict[str, str]:
    with sqlite3.connect(work / "bridge-data" / "store.sqlite3") as conn:
        return dict(conn.execute("SELECT href, vcard FROM contacts").fetchall())


@dataclass
class SizeResult:
    n: int
    pull_rate: float  # contacts per second, the bridge's initial pull
    floor_rate: float  # contacts per second, parse + render + insert in one process
    measured: dict[str, Results]  # server name -> operation -> sample
    rss: dict[str, float]  # server name -> peak resident MiB
    baseline_pull_rate: float = 0.0  # contacts per second, the baseline's initial pull


def start_baseline(
    work: Path, seed: Path, code: Path, result: SizeResult, stack: ExitStack
) -> servers.Process:
    """The revision compared against, on a sandbox seeded alike and a store of its own: its
    schema may differ from the working tree's, so it pulls for itself rather than copy the
    bridge's data directory (which the bridge's measurements have changed by then, too)."""
    own = work / "baseline"
    own.mkdir()
    sandbox = servers.start_sandbox(own, seed)
    stack.callback(sandbox.stop)
    config = servers.bridge_config(own, sandbox.url)
    pulled, seconds = pull(config, code)
    result.baseline_pull_rate = pulled / seconds
    return servers.start_bridge(own, config, code=code, name="baseline")


def run_size(n: int, reps: int, names: list[str], baseline: Path | None = None) -> SizeResult:
    with tempfile.TemporaryDirectory(prefix=f"bench-{n}-") as tmp:
        work = Path(tmp)
        generated = contacts(n)
        seed = work / "seed.json"
        seed.write_text(json.dumps(generated), encoding="utf-8")
        sandbox = servers.start_sandbox(work, seed)
        try:
            config = servers.bridge_config(work, sandbox.url)
            pulled, pull_seconds = pull(config)
            floor = floor_rate(generated, work)
            result = SizeResult(n, pulled / pull_seconds, floor, {}, {})
            starters: dict[str, Callable[[ExitStack], servers.Process]] = {
                "bridge": lambda stack: servers.start_bridge(work, config),
                "radicale": lambda stack: servers.start_radicale(
                    work, servers.seed_radicale(work, served_cards(work))
                ),
            }
            if baseline is not None:
                starters["baseline"] = partial(start_baseline, work, seed, baseline, result)
            for name in names:
                with ExitStack() as stack:
                    server = starters[name](stack)
                    stack.callback(server.stop)
                    dav = Dav(server.url, servers.USER, servers.PASSWORD, "contacts")
                    result.measured[name] = measure_server(dav, reps, n, name, server.cpu)
                    dav.close()
                    result.rss[name] = server.peak_rss()
        finally:
            sandbox.stop()
    return result


def _share(mine: float | None, theirs: float | None, digits: int = 3) -> str:
    return f"{mine / theirs:.{digits}f}" if mine and theirs else "-"


def _show(sample: Sample | None) -> str:
    return sample.show() if sample else "-"


def _median(sample: Sample | None) -> float | None:
    return sample.median if sample else None


def table(result: SizeResult, rev: str = "") -> str:
    """The size's table; with a baseline measured, two more columns: the baseline (revision
    ``rev``) and bridge / baseline."""
    ratio = result.pull_rate / result.floor_rate
    old = "baseline" in result.measured
    pull = f"Initial pull: {result.pull_rate:,.0f} contacts/s; "
    if old:
        pull += f"baseline {rev}: {result.baseline_pull_rate:,.0f} contacts/s; "
    lines = [
        f"### N = {result.n:,}",
        "",
        f"{pull}floor (JSON parse + vCard render + "
        f"SQLite insert, same process): {result.floor_rate:,.0f} contacts/s; ratio {ratio:.2f} "
        "(target >= 0.33)",
        "",
        "| operation (ms: median (min-max)) | bridge | stock Radicale | bridge / Radicale |"
        + (f" baseline {rev} | bridge / baseline |" if old else ""),
        "|---|---|---|---|" + ("---|---|" if old else ""),
    ]
    bridge, radicale = result.measured.get("bridge", {}), result.measured.get("radicale", {})
    baseline = result.measured.get("baseline", {})
    for op in bridge or radicale or baseline:
        mine, theirs, before = bridge.get(op), radicale.get(op), baseline.get(op)
        line = (
            f"| {op} | {_show(mine)} | {_show(theirs)} | {_share(_median(mine), _median(theirs))} |"
        )
        if old:
            line += f" {_show(before)} | {_share(_median(mine), _median(before))} |"
        lines.append(line)
    rss = {name: f"{mib:.0f}" for name, mib in result.rss.items()}
    mib = result.rss.get
    line = (
        f"| peak RSS (MiB) | {rss.get('bridge', '-')} | {rss.get('radicale', '-')} "
        f"| {_share(mib('bridge'), mib('radicale'), 2)} |"
    )
    if old:
        line += f" {rss.get('baseline', '-')} | {_share(mib('bridge'), mib('baseline'), 2)} |"
    lines.append(line)

    return "\n".join(lines)


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    return (
        f"{platform.platform()}, {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )


def write_readme(report: str) -> None:
    text = README.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    README.write_text(f"{head}{START}\n{report}\n{END}{tail}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="book sizes, comma-separated")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of each read")
    parser.add_argument(
        "--servers", default="bridge,radicale", help="which to measure (bridge alone for 100,000)"
    )
    parser.add_argument("--write-readme", action="store_true", help="record in README.md")
    parser.add_argument(
        "--baseline", metavar="REV", help='also measure git revision REV\'s bridge ("baseline")'
    )
    args = parser.parse_args()
    started = time.monotonic()
    header = f"Run {datetime.date.today().isoformat()} on {machine()}."
    sections = [header]
    print(header, flush=True)
    names = args.servers.split(",") + (["baseline"] if args.baseline else [])
    with checkout(args.baseline) if args.baseline else nullcontext() as checked:
        code, rev = checked if checked else (None, "")
        for n in (int(s) for s in args.sizes.split(",")):
            section = table(run_size(n, args.reps, names, code), rev)
            print(f"\n{section}\n", flush=True)
            sections.append(section)
    sections.append(f"Total benchmark time: {time.monotonic() - started:.0f} s.")
    if args.write_readme:
        write_readme("\n\n".join(sections))


if __name__ == "__main__":
    main()
