"""Writers through a real ``serve`` under upstream faults, a SIGKILL of the bridge and an
Aurinko outage: nothing lost, duplicated, resurrected or mismatched (a small run of
``python -m benchmarks.chaos``, whose full run the issue's figures come from)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.chaos import ChaosOptions, run_chaos
from tests.sync.conftest import PROFILES


@pytest.mark.slow
@pytest.mark.parametrize("profile", PROFILES)
def test_writes_survive_faults_a_sigkill_and_an_outage(tmp_path: Path, profile: str) -> None:
    options = ChaosOptions(writers=3, writes=70, cards=8, outage=3.0, profile=profile)
    result = run_chaos(options, tmp_path)
    assert result.clean, "\n".join([result.summary(), *result.details])
    assert result.writes >= 3 * 70
    assert result.worst_outage_latency < 30  # the client's own timeout is 60 s
