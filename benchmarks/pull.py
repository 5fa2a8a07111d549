"""The bridge's initial pull, timed inside its own process: ``python -m benchmarks.pull CONFIG``."""

from __future__ import annotations

import sys
import time

from bridge.config import load_config
from bridge.runtime import open_engine


def main(config_path: str) -> None:
    config = load_config(config_path)
    engine, books = open_engine(config)
    book = next(iter(books.values()))
    start = time.perf_counter()
    report = engine.pull(book)
    took = time.perf_counter() - start
    engine.close()
    if report.error:
        # A record here; a string in a baseline revision from before reports held records.
        raise SystemExit(f"pull failed: {getattr(report.error, 'text', report.error)}")
    print(f"{report.created} {took:.6f}")


if __name__ == "__main__":
    main(sys.argv[1])
