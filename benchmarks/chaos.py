"""Integrity under fire: ``python -m benchmarks.chaos [--writers 4 --writes 300]``.

CardDAV writers create, update and delete cards through a real ``serve`` process while the
sandbox fails a share of its requests (errors, connections dropped before and after acting),
the bridge is killed with SIGKILL and restarted mid-run, and Aurinko goes away entirely for
a while. Then faults stop, the bridge catches up, and what CardDAV serves and what Aurinko
holds are compared with what each writer last wrote: lost, duplicated, resurrected and
mismatched cards are counted (all must be zero), and the worst CardDAV latency while
Aurinko was away is reported.
"""

from __future__ import annotations

import argparse
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .servers import PASSWORD, TOKEN, USER, bridge_config, free_port, wait_http

BOOK = f"/{USER}/contacts/"
_FN = re.compile(r"^FN:(\S+)\r?$", re.MULTILINE)
_HREF = re.compile(r"<(?:\w+:)?href>[^<]*/([^/<]+\.vcf)</(?:\w+:)?href>")


@dataclass(frozen=True)
class ChaosOptions:
    writers: int = 4
    writes: int = 300  # per writer
    cards: int = 15  # hrefs per writer
    fault_rate: float = 0.3  # errors, drops before and after acting, together
    outage: float = 8.0  # seconds Aurinko is gone
    settle: float = 180.0  # at most this long for the bridge to catch up afterwards
    seed: int = 7
    profile: str = "generic"  # the sandbox's provider profile (and weak etags for google)


@dataclass
class Result:
    lost: int = 0  # a card's last write is not what CardDAV serves or Aurinko holds
    duplicated: int = 0  # a card more than once, upstream or in CardDAV
    resurrected: int = 0  # a deleted card served or upstream again
    mismatched: int = 0  # CardDAV and Aurinko hold different versions of one card
    writes: int = 0
    retried: int = 0  # requests sent again because the bridge was being restarted
    worst_outage_latency: float = 0.0  # seconds, of CardDAV requests while Aurinko was away
    worst_latency: float = 0.0
    settled_in: float = 0.0
    details: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.resurrected or self.mismatched)

    def summary(self) -> str:
        return (
            f"{self.writes} writes ({self.retried} retried across the restart): "
            f"lost {self.lost}, duplicated {self.duplicated}, resurrected {self.resurrected}, "
            f"mismatched {self.mismatched}; worst CardDAV latency {self.worst_latency:.2f} s, "
            f"{self.worst_outage_latency:.2f} s while Aurinko was down; "
            f"caught up {self.settled_in:.1f} s after the faults stopped"
        )


class Service:
    """A command on a fixed port that can be killed, SIGKILLed and started again."""

    def __init__(self, args: list[str], url: str, log: Path) -> None:
        self.args, self.url, self.log = args, url, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT)
        wait_http(self.url, timeout=60)

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=60)


class Chaos:
    def __init__(self, work: Path, options: ChaosOptions) -> None:
        self.options = options
        self.result = Result()
        sandbox_port, bridge_port = free_port(), free_port()
        self.sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        sandbox = ["sandbox", "--port", str(sandbox_port), "--db", str(work / "sandbox.sqlite3")]
        self.sandbox = Service(
            [sys.executable, "-m", "bridge", *sandbox, "--token", TOKEN],
            f"{self.sandbox_url}/v1",
            work / "sandbox.log",
        )
        config = bridge_config(work, f"{self.sandbox_url}/v1", port=bridge_port, freshness=5)
        self.bridge = Service(
            [sys.executable, "-m", "bridge", "serve", "--config", str(config)],
            f"http://127.0.0.1:{bridge_port}/",
            work / "bridge.log",
        )
        self.aurinko_down = threading.Event()
        self.done = 0
        self._lock = threading.Lock()
        self.models: list[dict[str, str | None]] = [{} for _ in range(options.writers)]

    # -- the run ------------------------------------------------------------------------

    def run(self) -> Result:
        self.sandbox.start()
        self._faults(self.options.fault_rate)
        self._profile()
        self.bridge.start()
        try:
            writers = [
                threading.Thread(target=self._writer, args=(i,), daemon=True)
                for i in range(self.options.writers)
            ]
            for thread in writers:
                thread.start()
            self._disrupt()
            for thread in writers:
                thread.join()
            self._faults(0.0)
            self._settle()
            self._count()
        finally:
            self.bridge.kill(signal.SIGTERM)
            self.sandbox.kill(signal.SIGTERM)
        return self.result

    def _disrupt(self) -> None:
        total = self.options.writers * self.options.writes
        self._wait_progress(total // 3)
        self.bridge.kill()  # SIGKILL mid-write: whatever was in flight stays in flight
        self.bridge.start()
        self._wait_progress(total * 2 // 3)
        self.aurinko_down.set()
        self.sandbox.kill()
        time.sleep(self.options.outage)
        self.sandbox.start()
        self._faults(self.options.fault_rate)
        self._profile()
        self.aurinko_down.clear()

    def _wait_progress(self, count: int) -> None:
        while self.done < count:
            time.sleep(0.05)

    def _faults(self, rate: float) -> None:
        share = rate / 3  # as many errors as drops before and drops after acting
        settings = {
            "error_rate": share,
            "drop_rate": share,
            "drop_after_rate": share,
            "seed": self.options.seed,
        }
        headers = {"Authorization": f"Bearer {TOKEN}"}
        httpx.put(
            f"{self.sandbox_url}/_sandbox/faults", json=settings, headers=headers
        ).raise_for_status()

    def _profile(self) -> None:
        settings = {"name": self.options.profile, "weak_etags": self.options.profile == "google"}
        headers = {"Authorization": f"Bearer {TOKEN}"}
        httpx.put(
            f"{self.sandbox_url}/_sandbox/profile", json=settings, headers=headers
        ).raise_for_status()

    # -- one writer -----------------------------------------------------------------------

    def _writer(self, index: int) -> None:
        rng = random.Random(self.options.seed * 1000 + index)
        model = self.models[index]
        generation: Counter[str] = Counter()
        with httpx.Client(base_url=self.bridge.url, auth=(USER, PASSWORD), timeout=60) as client:
            for version in range(self.options.writes):
                href = f"w{index}h{rng.randrange(self.options.cards)}.vcf"
                if model.get(href) and rng.random() < 0.2:
                    self._send(client, "DELETE", href, None, (200, 204, 404))
                    model[href] = None
                    generation[href] += 1
                else:
                    name = f"{href[:-4]}v{version}"
                    text = _card(f"{href[:-4]}-{generation[href]}", name)
                    self._send(client, "PUT", href, text, (201, 204))
                    model[href] = name
                with self._lock:
                    self.done += 1

    def _send(
        self, client: httpx.Client, method: str, href: str, text: str | None, ok: tuple[int, ...]
    ) -> None:
        """Until the bridge gives a definite answer: a request cut by its SIGKILL is sent
        again, as a client would."""
        while True:
            down = self.aurinko_down.is_set()
            started = time.monotonic()
            try:
                response = client.request(method, BOOK + href, content=text)
            except httpx.TransportError:
                self.result.retried += 1
                time.sleep(0.2)
                continue
            took = time.monotonic() - started
            with self._lock:
                self.result.writes += 1
                self.result.worst_latency = max(self.result.worst_latency, took)
                if down or self.aurinko_down.is_set():
                    self.result.worst_outage_latency = max(self.result.worst_outage_latency, took)
            if response.status_code in ok:
                return
            if response.status_code >= 500:
                self.result.retried += 1
                continue
            raise RuntimeError(f"{method} {href}: {response.status_code} {response.text}")

    # -- afterwards -----------------------------------------------------------------------

    def _expected(self) -> dict[str, str | None]:
        return {href: name for model in self.models for href, name in model.items()}

    def _settle(self) -> None:
        started = time.monotonic()
        live = sorted(n for n in self._expected().values() if n)
        while time.monotonic() - started < self.options.settle:
            if sorted(self._upstream()) == live:
                break
            time.sleep(1.0)
        self.result.settled_in = time.monotonic() - started

    def _upstream(self) -> list[str]:
        response = httpx.get(
            f"{self.sandbox_url}/_sandbox/contacts",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=60,
        )
        response.raise_for_status()
        return [c.get("name", {}).get("displayName", "") for c in response.json()["contacts"]]

    def _served(self) -> dict[str, list[str]]:
        """href -> the FN lines CardDAV serves for it (one, unless a card is doubled)."""
        with httpx.Client(base_url=self.bridge.url, auth=(USER, PASSWORD), timeout=60) as c:
            listing = c.request("PROPFIND", BOOK, headers={"Depth": "1"})
            served: dict[str, list[str]] = {}
            for href in _HREF.findall(listing.text):
                served[href] = _FN.findall(c.get(BOOK + href).text)
        return served

    def _count(self) -> None:
        expected, result = self._expected(), self.result
        upstream = Counter(self._upstream())
        by_card = Counter(name.rsplit("v", 1)[0] for name in upstream)
        served = self._served()
        for href, name in expected.items():
            card = href[:-4]
            fns = served.get(href, [])
            if name is None:
                if fns or by_card[card]:
                    result.resurrected += 1
                    result.details.append(f"resurrected {href}: served {fns}, {by_card[card]} up")
                continue
            if fns != [name] or upstream[name] != 1:
                result.lost += fns != [name] and upstream[name] == 0
                result.details.append(f"{href}: wrote {name}, served {fns}, up {upstream[name]}")
            if by_card[card] > 1:
                result.duplicated += by_card[card] - 1
            if fns and upstream[name] == 0 and by_card[card]:
                result.mismatched += 1
        strays = set(served) - set(expected)
        result.duplicated += len(strays)
        result.details += [f"stray in CardDAV: {h} {served[h]}" for h in sorted(strays)]


def _card(uid: str, name: str) -> str:
    return f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nEND:VCARD\r\n"


def run_chaos(options: ChaosOptions, work: Path | None = None) -> Result:
    if work is not None:
        return Chaos(work, options).run()
    with tempfile.TemporaryDirectory(prefix="bridge-chaos-") as tmp:
        return Chaos(Path(tmp), options).run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=ChaosOptions.writers)
    parser.add_argument("--writes", type=int, default=ChaosOptions.writes)
    parser.add_argument("--fault-rate", type=float, default=ChaosOptions.fault_rate)
    parser.add_argument("--outage", type=float, default=ChaosOptions.outage)
    parser.add_argument("--seed", type=int, default=ChaosOptions.seed)
    parser.add_argument(
        "--profile", choices=("generic", "office365", "google"), default=ChaosOptions.profile
    )
    parser.add_argument("--keep", type=Path, help="run in this folder and keep the logs")
    args = parser.parse_args()
    options = ChaosOptions(
        writers=args.writers,
        writes=args.writes,
        fault_rate=args.fault_rate,
        outage=args.outage,
        seed=args.seed,
        profile=args.profile,
    )
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    result = run_chaos(options, args.keep)
    print(result.summary())
    for line in result.details[:50]:
        print(f"  {line}")
    raise SystemExit(0 if result.clean else 1)


if __name__ == "__main__":
    main()
