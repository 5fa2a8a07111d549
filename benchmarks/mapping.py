"""Micro-benchmark of the mapping layer: ``from_vcard`` and ``to_vcard`` per card.

Over every input card of ``fixtures/vcards`` (``*.vcf``, not ``*.served-*``): parse it, and
render its contact with the card as shadow in its own version and in the other one (a 2.1 card
in 3.0 and 4.0). Prints the best of ``--rounds`` rounds, each ``--reps`` passes over all cards,
in microseconds per card, for parse and render separately::

    .venv/bin/python -m benchmarks.mapping [--reps 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.mapping import from_vcard, to_vcard

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "vcards"
SERVED = {"2.1": ("3.0", "4.0"), "3.0": ("3.0", "4.0"), "4.0": ("4.0", "3.0")}


@dataclass(frozen=True)
class Input:
    name: str
    data: bytes
    contact: dict[str, Any]
    shadow: str
    uid: str
    versions: tuple[str, ...]


def inputs(root: Path = ROOT) -> list[Input]:
    found: list[Input] = []
    for path in sorted(p for p in root.glob("*/*.vcf") if ".served-" not in p.name):
        data = path.read_bytes()
        card = from_vcard(data)
        uid = card.uid or f"bench-{path.stem}"
        name = f"{path.parent.name}/{path.stem}"
        found.append(Input(name, data, card.contact, card.shadow, uid, SERVED[card.version]))
    return found


def _best(rounds: int, run: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def measure(cards: list[Input], reps: int, rounds: int) -> tuple[float, float, int]:
    """(µs per parse, µs per render, renders per pass), best round."""

    def parse() -> None:
        for _ in range(reps):
            for card in cards:
                from_vcard(card.data)

    def render() -> None:
        for _ in range(reps):
            for card in cards:
                for version in card.versions:
                    to_vcard(card.contact, version, card.shadow, uid=card.uid)

    renders = sum(len(card.versions) for card in cards)
    parse_s = _best(rounds, parse)
    render_s = _best(rounds, render)
    return parse_s / (reps * len(cards)) * 1e6, render_s / (reps * renders) * 1e6, renders


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mapping", description=__doc__)
    parser.add_argument("--reps", type=int, default=20, help="passes over all cards per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best one counts")
    args = parser.parse_args(argv)
    cards = inputs()
    parse_us, render_us, renders = measure(cards, args.reps, args.rounds)
    print(
        f"{len(cards)} cards, {renders} renders per pass, {args.reps} passes, best of "
        f"{args.rounds} rounds"
    )
    print(f"parse  (from_vcard): {parse_us:8.1f} µs per card")
    print(f"render (to_vcard):   {render_us:8.1f} µs per card and version")
    print(
        f"per card (parse + own and other version): "
        f"{parse_us + render_us * renders / len(cards):8.1f} µs"
    )


if __name__ == "__main__":
    main()
