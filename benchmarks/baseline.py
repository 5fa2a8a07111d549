"""Another revision of the bridge, checked out beside the working tree, to measure side by side.

``checkout(rev)`` makes a detached git worktree of ``rev`` in a temporary directory and
removes it afterwards; a server started with ``cwd`` and ``PYTHONPATH`` set to it
(``servers.code_env``) imports that revision's ``bridge`` and ``radicale_plugin``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .servers import code_env

REPO = Path(__file__).resolve().parents[1]
# Printed by a child started like the baseline's server: where its packages come from.
WHERE = "import bridge, radicale_plugin; print(bridge.__file__); print(radicale_plugin.__file__)"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def verify(code: Path) -> None:
    """Refuse to measure unless a child started as the baseline's server imports ``code``:
    the venv's editable install points at the working tree, and a silent fallback to it
    would compare the working tree with itself."""
    found = subprocess.run(
        [sys.executable, "-c", WHERE],
        capture_output=True,
        text=True,
        check=True,
        cwd=code,
        env=code_env(code),
    ).stdout.split()
    outside = [path for path in found if not Path(path).resolve().is_relative_to(code.resolve())]
    if outside:
        raise RuntimeError(f"the baseline would import {outside}, not the checkout in {code}")


@contextmanager
def checkout(rev: str) -> Iterator[tuple[Path, str]]:
    """A detached worktree of ``rev`` and its short commit id; removed again on the way out.
    Only the repository's worktree list changes, never the working tree or its index."""
    parent = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    code = parent / "src"  # git creates it: it refuses a directory that exists
    try:
        _git("worktree", "add", "--detach", str(code), rev)
        verify(code)
        yield code, _git("-C", str(code), "rev-parse", "--short", "HEAD")
    finally:
        if code.exists():
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(code)],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(parent, ignore_errors=True)
