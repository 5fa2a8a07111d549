"""docs/aurinko-contract-notes.md: every guess is marked one way and listed once at the top.

Each "**Our guess:**" follows its own anchor (``<a id="guess-..."></a>``), the list under
"Where the guesses are" links each anchor exactly once and nothing else, and the older
markers ("our choice", "inference", a lower-case "our guess") are gone.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

NOTES = Path(__file__).resolve().parent.parent / "docs" / "aurinko-contract-notes.md"
MARKER = "**Our guess:**"
ANCHOR = re.compile(r'<a id="(guess-[a-z0-9-]+)"></a>')


def _parts() -> tuple[str, str]:
    text = NOTES.read_text(encoding="utf-8")
    top, rest = text.split("## Where the guesses are", 1)[1].split("\n## ", 1)
    return top, rest


def test_every_guess_is_marked_after_its_own_anchor() -> None:
    _, body = _parts()
    assert body.count(MARKER) > 0
    for found in re.finditer(re.escape(MARKER), body):
        before = body[: found.start()]
        where = body[found.start() - 80 : found.end() + 40]
        assert ANCHOR.search(before[-40:]), f"a guess without its anchor: {where!r}"
    anchors = ANCHOR.findall(body)
    assert len(anchors) == body.count(MARKER) == len(set(anchors))


def test_the_list_at_the_top_links_every_guess_once() -> None:
    top, body = _parts()
    linked = Counter(re.findall(r"\]\(#(guess-[a-z0-9-]+)\)", top))
    assert [name for name, n in linked.items() if n > 1] == []
    assert sorted(linked) == sorted(ANCHOR.findall(body))


def test_no_guess_hides_behind_an_older_marker() -> None:
    text = NOTES.read_text(encoding="utf-8")
    for old in ("our choice", "inference", "our reading", "are ours", "wording ours"):
        assert old not in text.lower(), old
    assert text.lower().count("our guess") == text.count(MARKER)
