"""docs/ARCHITECTURE.md names the code as it is: every module and folder it names exists,
and the README links it (the design notes once lived outside the repository)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ARCHITECTURE.md"


def test_every_path_the_architecture_names_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    named = re.findall(r"`((?:bridge|radicale_plugin)(?:/[\w.-]+)*)`", text)
    assert named
    assert [p for p in named if not (ROOT / p).exists()] == []


def test_every_module_of_a_package_row_exists_in_that_package() -> None:
    rows = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("| `")]
    assert rows
    missing = []
    for row in rows:
        _, owners, what, _ = row.split("|", 3)
        folders = [ROOT / p for p in re.findall(r"`([\w/.-]+)`", owners)]
        for module in re.findall(r"`(\w+\.py)`", what):
            if not any((f / module).exists() or (f.parent / module).exists() for f in folders):
                missing.append((owners.strip(), module))
    assert missing == []


def test_the_readme_links_the_architecture_and_not_a_file_outside_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/ARCHITECTURE.md)" in readme
    assert "../shared" not in readme
