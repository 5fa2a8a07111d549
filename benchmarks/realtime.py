"""How soon a change made in Aurinko reaches a client: with webhooks on and off.

    python -m benchmarks.realtime [--changes 100] [--every 0.5] [--isolated 12] [--apart 10]
                                  [--freshness 30] [--baseline REV]

Another device creates ``--changes`` contacts in the sandbox, one every ``--every`` seconds
(the stream), while a CardDAV client polls sync-collection every 0.2 s and a WebDAV-Push
subscriber (a push service of our own on 127.0.0.1, decrypting each message) waits for
messages. For each change: the time until it is listed by sync-collection, and until the
first push message that arrives once it is listed. Webhooks off is the default
configuration (a read pulls a book older than ``--freshness``, 30 s); on, Aurinko's
notification pulls the book at once. With webhooks on, a second phase follows the stream
once its messages are over: ``--isolated`` changes, one every ``--apart`` seconds, each on
its own (push messages are paced per book: the stream's pacing must not delay them).
``--baseline REV`` measures the webhooks-on run again with ``serve`` from git revision REV.
Everything runs on 127.0.0.1, ``serve`` and the sandbox in processes of their own.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from . import servers
from .baseline import checkout
from .run import machine

SECRET = "bench-signing-secret-0123456789"
SYNC = (
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}'
    "</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop>"
    "</D:sync-collection>"
)


@dataclass
class Timeline:
    made: dict[str, float] = field(default_factory=dict)  # contact name -> when created
    listed: dict[str, float] = field(default_factory=dict)  # -> first seen in a listing
    pushed: list[float] = field(default_factory=list)  # arrival of each push message


@dataclass(frozen=True)
class Phases:
    """One run's changes: the stream, and the isolated changes after it (if any)."""

    stream: Timeline
    isolated: Timeline | None


def _sandbox(work: Path) -> servers.Process:
    port = servers.free_port()
    args = [sys.executable, "-m", "bridge", "sandbox", "--port", str(port)]
    args += ["--db", str(work / "sandbox.sqlite3"), "--token", servers.TOKEN]
    args += ["--signing-secret", SECRET]
    return servers.Process(args, f"http://127.0.0.1:{port}/v1", work / "sandbox.log")


def _knows_allow_hosts(code: Path | None) -> bool:
    """Whether the bridge under test reads ``[push] allow_hosts`` (a baseline from before it
    refuses the unknown key, and sends to loopback without it)."""
    root = code if code is not None else Path(__file__).resolve().parents[1]
    return "allow_hosts" in (root / "bridge" / "config.py").read_text(encoding="utf-8")


def _config(
    work: Path, sandbox_url: str, webhooks: bool, code: Path | None, freshness: int = 30
) -> Path:
    port = servers.free_port()
    config = servers.bridge_config(work, sandbox_url, port=port, freshness=freshness)
    text = config.read_text(encoding="utf-8")
    text = text.replace(f"interval = {min(freshness * 6, 3600)}", "interval = 300")
    text += '\n[push]\ncontact = "mailto:bench@example.org"\nallow_http = true\n'
    if _knows_allow_hosts(code):  # the push service is on 127.0.0.1: named, as it must be
        text += 'allow_hosts = ["127.0.0.1"]\n'
    if webhooks:
        secret = work / "signing.secret"
        secret.write_text(SECRET + "\n")
        secret.chmod(0o600)
        text += f'\n[webhooks]\npublic_url = "http://127.0.0.1:{port}"\n'
        text += f'signing_secret_file = "{secret}"\n'
    config.write_text(text, encoding="utf-8")
    return config


def _listings(client: httpx.Client, timeline: Timeline, stop: threading.Event) -> None:
    token = ""
    while not stop.is_set():
        answer = client.request(
            "REPORT",
            "",
            content=SYNC.format(token=token),
            headers={"Depth": "1", "Content-Type": "application/xml"},
        )
        now = time.monotonic()
        tree = ET.fromstring(answer.content)
        token = tree.findtext("{DAV:}sync-token") or token
        hrefs = [r.findtext("{DAV:}href") for r in tree.iter("{DAV:}response")]
        for href in hrefs:
            if href and href.endswith(".vcf"):
                card = client.get(href.rsplit("/", 1)[-1]).text
                for line in card.splitlines():
                    if line.startswith("FN:"):
                        timeline.listed.setdefault(line[3:].strip(), now)
        stop.wait(0.2)


def _create(remote: httpx.Client, timeline: Timeline, name: str) -> None:
    timeline.made[name] = time.monotonic()
    remote.post("/contacts", json={"name": {"displayName": name}}).raise_for_status()


def _listed(timeline: Timeline, listings: Timeline, timeout: float = 60) -> None:
    """Wait until every change ``timeline`` made is in ``listings``; copy their times."""
    deadline = time.monotonic() + timeout
    while not timeline.made.keys() <= set(listings.listed) and time.monotonic() < deadline:
        time.sleep(0.2)
    seen = dict(listings.listed)  # a copy: the poller adds to it meanwhile
    timeline.listed = {n: t for n, t in seen.items() if n in timeline.made}


def run_once(
    work: Path,
    changes: int,
    every: float,
    webhooks: bool,
    isolated: int = 0,
    apart: float = 10,
    code: Path | None = None,
    freshness: int = 30,
) -> Phases:
    """One run; ``code``: a checkout whose ``serve`` runs instead of the working tree's."""
    from tests.push.conftest import PushService, Subscriber  # the tests' push service

    sandbox = _sandbox(work)
    service = PushService()
    listings, stream = Timeline(), Timeline()
    alone = Timeline() if isolated else None
    try:
        server = servers.start_bridge(
            work, _config(work, sandbox.url, webhooks, code, freshness), code=code
        )
        try:
            book = f"{server.url}{servers.USER}/contacts/"
            auth = (servers.USER, servers.PASSWORD)
            client = httpx.Client(base_url=book, auth=auth, timeout=60)
            subscriber: Subscriber = service.subscriber("bench")
            registered = client.post(
                "", content=subscriber.register_body(), headers={"Content-Type": "application/xml"}
            )
            assert registered.status_code in (201, 204), registered.text
            stop = threading.Event()
            poller = threading.Thread(target=_listings, args=(client, listings, stop))
            poller.start()
            time.sleep(1.0)  # the first listing and pull are behind us
            remote = httpx.Client(
                base_url=sandbox.url, headers={"Authorization": f"Bearer {servers.TOKEN}"}
            )
            for i in range(changes):
                _create(remote, stream, f"Realtime {i}")
                time.sleep(every)
            _listed(stream, listings)
            time.sleep(6.0)  # the last push message, at the end of its window (5 s)
            started = time.monotonic()
            stream.pushed = [m.arrived for m in subscriber.messages]
            if alone is not None:
                for i in range(isolated):
                    time.sleep(apart)  # a quiet spell: no message for longer than a window
                    _create(remote, alone, f"Isolated {i}")
                _listed(alone, listings)
                time.sleep(6.0)
                alone.pushed = [m.arrived for m in subscriber.messages if m.arrived >= started]
            stop.set()
            poller.join()
            client.close()
            remote.close()
        finally:
            server.stop()
    finally:
        service.close()
        sandbox.stop()
    return Phases(stream, alone)


def _figures(timeline: Timeline) -> tuple[list[float], list[float], int]:
    listed, pushed, missing = [], [], 0
    for name, made in timeline.made.items():
        seen = timeline.listed.get(name)
        if seen is None:
            missing += 1
            continue
        listed.append(seen - made)
        after = [t for t in timeline.pushed if t >= seen - 0.25]
        if after:
            pushed.append(min(after) - made)
    return listed, pushed, missing


def _p(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.2f}"


def row(label: str, timeline: Timeline) -> str:
    listed, pushed, missing = _figures(timeline)
    median = f"{statistics.median(listed):.2f}" if listed else "-"
    push_median = f"{statistics.median(pushed):.2f}" if pushed else "-"
    return (
        f"| {label} | {median} | {_p(listed, 0.95)} | {push_median} | {_p(pushed, 0.95)} "
        f"| {len(timeline.pushed)} | {missing} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=100, help="contacts created upstream")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between changes")
    parser.add_argument(
        "--isolated", type=int, default=12, help="changes on their own, after the stream"
    )
    parser.add_argument(
        "--apart", type=float, default=10.0, help="seconds between isolated changes"
    )
    parser.add_argument(
        "--freshness", type=int, default=30, help="[sync] freshness, seconds (the default's)"
    )
    parser.add_argument("--baseline", metavar="REV", help="also measure this git revision")
    args = parser.parse_args()
    print(
        f"Run on {machine()}; {args.changes} changes, one every {args.every} s; "
        f"then {args.isolated} isolated changes, one every {args.apart} s (webhooks on).",
        flush=True,
    )
    lines = [
        "| webhooks | listed: median s | p95 | push message: median s | p95 | messages "
        "| never listed |",
        "|---|---|---|---|---|---|---|",
    ]
    with checkout(args.baseline) if args.baseline else nullcontext() as checked:
        runs: list[tuple[str, bool, Path | None]] = [
            (f"off (freshness {args.freshness} s)", False, None),
            ("on", True, None),
        ]
        if checked is not None:
            runs.append((f"on, baseline {checked[1]}", True, checked[0]))
        for label, on, code in runs:
            with tempfile.TemporaryDirectory(prefix="bench-rt-") as tmp:
                isolated = args.isolated if on else 0
                phases = run_once(
                    Path(tmp),
                    args.changes,
                    args.every,
                    on,
                    isolated,
                    args.apart,
                    code,
                    args.freshness,
                )
            lines.append(row(label, phases.stream))
            print(lines[-1], flush=True)
            if phases.isolated is not None:
                alone = f"{label}, isolated (one every {args.apart:g} s)"
                lines.append(row(alone, phases.isolated))
                print(lines[-1], flush=True)
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
