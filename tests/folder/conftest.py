"""A bridge data directory and config over a loopback sandbox, for the folder commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_bridge_config
from tests.wait import eventually as eventually  # re-exported: tests import it from here too

BRIDGE = [sys.executable, "-m", "bridge"]


def people(n: int, start: int = 0) -> list[dict]:
    return [
        {
            "name": {
                "givenName": f"Given{i}",
                "familyName": f"Family{i}",
                "displayName": f"Person {i}",
            },
            "emailAddresses": [{"address": f"p{i}@example.com", "type": "home"}],
            "phoneNumbers": [{"number": f"+1555{i:07d}", "type": "mobile"}],
        }
        for i in range(start, start + n)
    ]


@pytest.fixture
def config_file(tmp_path: Path, live_sandbox: str) -> Path:
    return write_bridge_config(tmp_path, live_sandbox)


def bridge(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BRIDGE, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
