"""The README's code blocks, as a test runs them: by section, with their language."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_HEADING = re.compile(r"^(#+) ", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    lang: str  # "sh", "toml", "ini", "" ...
    text: str


def section(title: str) -> str:
    """The text under the heading ``title``, up to the next heading of its level or above
    (a ``#`` line inside a code block is a comment, not a heading)."""
    lines = README.read_text(encoding="utf-8").splitlines(keepends=True)
    taken: list[str] = []
    level = 0
    fenced = False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        heading = None if fenced else _HEADING.match(line)
        if level and heading and len(heading.group(1)) <= level:
            break
        if level:
            taken.append(line)
        elif heading and line.rstrip("\n") == f"{heading.group(1)} {title}":
            level = len(heading.group(1))
    assert level, f"no section {title!r} in the README"
    return "".join(taken)


def blocks(title: str) -> list[Block]:
    """The fenced code blocks of the section ``title``, in order."""
    return [Block(m.group(1), m.group(2)) for m in _FENCE.finditer(section(title))]


def commands(block: Block) -> list[str]:
    """A shell block's commands: one per line, comments and blank lines left out."""
    assert block.lang == "sh", block
    lines = [line.strip() for line in block.text.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]
