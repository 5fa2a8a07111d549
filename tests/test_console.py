"""Progress is not a second summary: short work prints no progress line, and a terminal's
progress line is wiped before the command's summary (issue 23, point 7)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from bridge.console import Progress
from tests.cli.serving import BRIDGE


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_short_work_prints_no_progress_line() -> None:
    stream = io.StringIO()
    progress = Progress("alice/work: imported", stream, every=3600)
    for _ in range(5):
        progress(1)
    progress.close()
    assert stream.getvalue() == ""


def test_long_work_prints_a_line_now_and_then() -> None:
    stream = io.StringIO()
    progress = Progress("alice/work: imported", stream, every=0)
    progress(2)
    progress.close()
    assert stream.getvalue() == "alice/work: imported: 2\n"


def test_a_terminals_progress_line_is_wiped_at_the_end() -> None:
    stream = Terminal()
    progress = Progress("alice/work: imported", stream)
    progress(1)
    progress(1)
    progress.close()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_import_prints_one_summary(tmp_path: Path) -> None:
    demo = ("--demo-dir", str(tmp_path / "demo"))

    def bridge(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*BRIDGE, *args, *demo], capture_output=True, text=True, timeout=120, check=False
        )

    exported = bridge("export", str(tmp_path / "cards"))
    assert exported.returncode == 0, exported.stderr
    card = sorted((tmp_path / "cards").iterdir())[0]
    card.write_text(card.read_text().replace("\nFN:", "\nFN:Edited "))
    imported = bridge("import", str(tmp_path / "cards"))
    assert imported.returncode == 0, imported.stderr
    assert imported.stderr == ""
    [summary] = imported.stdout.splitlines()
    assert summary.startswith(f"{tmp_path / 'cards'} -> demo/contacts: 0 created, 1 updated,")
