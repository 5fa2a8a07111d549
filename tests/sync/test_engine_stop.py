"""Stopping the engine while its background loop is in the middle of a sync."""

from __future__ import annotations

import time
from pathlib import Path

from bridge.sandbox import SandboxApp
from tests.sync.conftest import make_engine


def test_a_stop_during_a_background_sync_ends_the_loop(
    sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path
) -> None:
    """The stop must not be lost when the round it interrupts ends: the loop would then
    sleep its whole interval and ``serve`` would hang on Ctrl-C (SIGTERM) for 30 s."""
    engine = make_engine(tmp_path / "bridge", live_sandbox)
    sandbox_app.set_faults(latency=1.0)  # a round of several calls takes seconds
    try:
        engine.start(interval=3600)
        loop = engine.scheduler._loop
        assert loop is not None
        time.sleep(0.3)
        engine.stop()  # while the round runs
        assert not loop.is_alive()
    finally:
        sandbox_app.set_faults(latency=0.0)
        engine.close()
