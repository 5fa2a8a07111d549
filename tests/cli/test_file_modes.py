"""The command line under the usual umask leaves nothing of its data readable by others."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.store.test_file_modes import not_private

BRIDGE = [sys.executable, "-m", "bridge"]


def test_sync_and_export_on_the_demo_keep_its_folder_private(tmp_path: Path) -> None:
    demo, vdir = tmp_path / "demo", tmp_path / "out" / "vdir"
    old = os.umask(0o022)  # inherited by the command
    try:
        for args in (["sync"], ["export", str(vdir)]):
            done = subprocess.run(
                [*BRIDGE, *args, "--demo-dir", str(demo)],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, done.stderr
    finally:
        os.umask(old)
    assert (demo / "bridge" / "store.sqlite3").exists() and list(vdir.glob("*.vcf"))
    assert not_private(demo) == []
    assert not_private(tmp_path / "out") == []
