"""The benchmark command still runs end to end (on a tiny book; no time is asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_benchmark_runs_and_prints_every_row() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--sizes", "30", "--reps", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for row in (
        "Initial pull:",
        "| PROPFIND Depth 1 (getetag) |",
        "| multiget all, batches of 100 |",
        "| sync-collection, incremental after 1 % |",
        "| PUT If-Match (update) |",
        "| PUT new, 8 concurrent clients |",
        "| peak RSS (MiB) |",
    ):
        assert row in result.stdout, row


@pytest.mark.slow
def test_postgres_benchmark_runs_and_prints_every_row() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.postgres", "--n", "30", "--reps", "1", "--each", "3"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for row in (
        "Initial pull: SQLite",
        "| PROPFIND Depth 1 (getetag) |",
        "| PUT If-Match (update) |",
        "| PUT new card (8 x 3) |",
        "| GET card (8 x 15) |",
    ):
        assert row in result.stdout, row


@pytest.mark.slow
def test_realtime_benchmark_runs_and_prints_its_rows() -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.realtime", "--changes", "2", "--every", "0.3"),
            *("--isolated", "2", "--apart", "1"),
            # Webhooks off, a change is listed once a read finds the book older than this:
            # the default 30 s would be most of the test's time.
            *("--freshness", "2"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for row in ("| off (freshness 2 s) |", "| on |", "| on, isolated (one every 1 s) |"):
        assert row in result.stdout, row
