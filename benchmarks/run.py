"""Side-by-side benchmark: the bridge (with its Aurinko round trips to the sandbox) against
stock Radicale 3.9 (multifilesystem) holding the same cards.

    python -m benchmarks.run [--sizes 1000,10000] [--reps 5] [--write-readme]

Everything runs on 127.0.0.1; each server is its own process.
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
from dataclasses import dataclass, field
from pathlib import Path

from . import servers
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
        return f"{self.median * scale:,.1f} ({lo:,.1f}-{hi:,.1f})"


Results = dict[str, Sample]


def measure_server(dav: Dav, reps: int, n: int, tag: str) -> Results:
    results: Results = {}

    def add(name: str, value: float) -> None:
        results.setdefault(name, Sample()).values.append(value)

    add("PROPFIND Depth 1, first (cold)", timed(dav.propfind))
    etags = dav.propfind()
    hrefs = sorted(etags)
    rng = random.Random(7)
    for _ in range(reps):
        add("PROPFIND Depth 1 (getetag)", timed(dav.propfind))
        add("multiget all, batches of 100", timed(dav.multiget, hrefs))
        add("sync-collection, initial", timed(dav.sync))
        add("200 random GETs", timed(dav.random_gets, hrefs, 200, rng))
    for r in range(min(reps, 3)):
        token, _ = dav.sync()
        for href in rng.sample(hrefs, max(1, n // 100)):  # 1 % of the cards change
            text = dav.get(href)
            new_etag = dav.put_update(href, etags[href], text.replace("NOTE:", f"NOTE:r{r} ", 1))
            etags[href] = new_etag or dav.etag(href)
        add("sync-collection, incremental after 1 %", timed(dav.sync, token))
    for i in range(PUTS):
        add("PUT new card", timed(dav.put_new, f"{tag}-new-{i}"))
    for href in rng.sample(hrefs, min(PUTS, len(hrefs))):
        text = dav.get(href)
        add(
            "PUT If-Match (update)",
            timed(dav.put_update, href, etags[href], text.replace("NOTE:", "NOTE:u ", 1)),
        )
    for latency in dav.concurrent_puts(f"{tag}-conc"):
        add("PUT new, 8 concurrent clients", latency)
    return results


def pull(config: Path) -> tuple[int, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.pull", str(config)],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
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


def run_size(n: int, reps: int, names: list[str]) -> SizeResult:
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
            starters = {
                "bridge": lambda: servers.start_bridge(work, config),
                "radicale": lambda: servers.start_radicale(
                    work, servers.seed_radicale(work, served_cards(work))
                ),
            }
            result = SizeResult(n, pulled / pull_seconds, floor, {}, {})
            for name in names:
                server = starters[name]()
                try:
                    dav = Dav(server.url, servers.USER, servers.PASSWORD, "contacts")
                    result.measured[name] = measure_server(dav, reps, n, name)
                    dav.close()
                    result.rss[name] = server.peak_rss()
                finally:
                    server.stop()
        finally:
            sandbox.stop()
    return result


def table(result: SizeResult) -> str:
    ratio = result.pull_rate / result.floor_rate
    lines = [
        f"### N = {result.n:,}",
        "",
        f"Initial pull: {result.pull_rate:,.0f} contacts/s; floor (JSON parse + vCard render + "
        f"SQLite insert, same process): {result.floor_rate:,.0f} contacts/s; ratio {ratio:.2f} "
        "(target >= 0.33)",
        "",
        "| operation (ms: median (min-max)) | bridge | stock Radicale | bridge / Radicale |",
        "|---|---|---|---|",
    ]
    bridge, radicale = result.measured.get("bridge", {}), result.measured.get("radicale", {})
    for op in bridge or radicale:
        mine, theirs = bridge.get(op), radicale.get(op)
        share = f"{mine.median / theirs.median:.3f}" if mine and theirs else "-"
        lines.append(
            f"| {op} | {mine.show() if mine else '-'} | {theirs.show() if theirs else '-'} "
            f"| {share} |"
        )
    rss = {name: f"{mib:.0f}" for name, mib in result.rss.items()}
    share = f"{result.rss['bridge'] / result.rss['radicale']:.2f}" if len(rss) == 2 else "-"
    lines.append(
        f"| peak RSS (MiB) | {rss.get('bridge', '-')} | {rss.get('radicale', '-')} | {share} |"
    )

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
    args = parser.parse_args()
    started = time.monotonic()
    header = f"Run {datetime.date.today().isoformat()} on {machine()}."
    sections = [header]
    print(header, flush=True)
    for n in (int(s) for s in args.sizes.split(",")):
        section = table(run_size(n, args.reps, args.servers.split(",")))
        print(f"\n{section}\n", flush=True)
        sections.append(section)
    sections.append(f"Total benchmark time: {time.monotonic() - started:.0f} s.")
    if args.write_readme:
        write_readme("\n\n".join(sections))


if __name__ == "__main__":
    main()
