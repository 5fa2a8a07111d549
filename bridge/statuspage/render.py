"""The status page's HTML: server-rendered, no script, readable on a phone.

Every value that comes from a card, a path or an error is escaped here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from ..status import (
    BookStatus,
    HeldField,
    KeptConflict,
    ParkedWrite,
    TokenState,
    age,
    held_words,
    token_words,
)

_STYLE = """
body{font:16px/1.4 system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:0 .8rem 2rem}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin:1.6rem 0 .4rem}h3{font-size:1rem}
section.book{border-top:2px solid #888;margin-top:1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem}dt{font-weight:600}
.bad{color:#a00;font-weight:600}.ok{color:#060}.notice{background:#eef6ee;padding:.5rem}
.sides{display:grid;grid-template-columns:1fr 1fr;gap:.8rem}
@media (max-width:40rem){.sides{grid-template-columns:1fr}dl{grid-template-columns:1fr}}
pre{white-space:pre-wrap;word-break:break-all;background:#f4f4f4;padding:.5rem;margin:.3rem 0}
mark{background:#ffe08a}button{font-size:1rem;padding:.4rem .9rem;margin:.2rem .4rem .2rem 0}
form{display:inline}code{word-break:break-all}
"""

_TOKEN_CSS = {
    TokenState.OK: "ok",
    TokenState.REFUSED: "bad",
    TokenState.DEAD: "bad",
    TokenState.RETRYING: "bad",
    TokenState.UNREACHABLE: "bad",
    TokenState.UNREADABLE: "bad",
}


@dataclass(frozen=True)
class ConflictView:
    """A kept conflict with both versions as cards (None: that side is a deletion)."""

    conflict: KeptConflict
    current: str | None
    other: str | None


def page(
    user: str,
    statuses: list[BookStatus],
    conflicts: dict[int, ConflictView],
    csrf: str,
    notice: str | None,
) -> str:
    books = "".join(_book(s, conflicts, csrf) for s in statuses) or "<p>No address books.</p>"
    banner = f'<p class="notice" role="status">{escape(notice)}</p>' if notice else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="csrf" content="{escape(csrf)}">'
        f"<title>Address books of {escape(user)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Address books of {escape(user)}</h1>{banner}{books}"
        '<p><a href="./">Refresh</a></p></body></html>'
    )


def _book(status: BookStatus, conflicts: dict[int, ConflictView], csrf: str) -> str:
    css, words = _TOKEN_CSS.get(status.token.state, ""), token_words(status)
    detail = f" ({escape(status.token.detail)})" if status.token.detail else ""
    facts = [
        ("Account", escape(status.account or "none: lives only in the bridge")),
        ("Token", f'<span class="{css}">{escape(words)}</span>{detail}'),
        ("Last pull", escape(age(status.last_pull))),
        ("Last push", escape(age(status.last_push))),
        ("Contacts", str(status.contacts)),
        ("Writes waiting", str(status.waiting)),
        ("Refused writes", str(len(status.parked))),
        ("Conflicts kept", str(len(status.conflicts))),
        ("Fields held back", str(len(status.held))),
    ]
    rows = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    parked = "".join(_parked(op, csrf) for op in status.parked)
    kept = "".join(_conflict(conflicts[c.id], csrf) for c in status.conflicts if c.id in conflicts)
    held = "".join(_held(h) for h in status.held)
    return (
        f'<section class="book" id="book-{escape(status.owner)}-{escape(status.name)}">'
        f"<h2>{escape(status.path)}</h2><dl>{rows}</dl>"
        f"{'<h3>Writes Aurinko refused</h3>' + parked if parked else ''}"
        f"{'<h3>Fields Aurinko would not take</h3><ul>' + held + '</ul>' if held else ''}"
        f"{'<h3>Conflicts</h3>' + kept if kept else ''}</section>"
    )


def _parked(op: ParkedWrite, csrf: str) -> str:
    return (
        f'<div class="parked" id="parked-{op.id}"><p>#{op.id}: {escape(op.op)} of '
        f"<code>{escape(op.href)}</code> after {_tries(op.attempts)}: {escape(op.reason)}</p>"
        f'<form method="post" action="parked/{op.id}">{_csrf(csrf)}'
        '<button name="action" value="retry">Send again</button>'
        '<button name="action" value="drop">Give up (the card stays)</button></form></div>'
    )


def _held(held: HeldField) -> str:
    return f'<li class="held"><code>{escape(held.href)}</code>: {escape(held_words(held))}</li>'


def _tries(count: int) -> str:
    return "1 try" if count == 1 else f"{count} tries"


def _conflict(view: ConflictView, csrf: str) -> str:
    conflict = view.conflict
    fields = ", ".join(conflict.fields) or "the whole contact"
    marked_current, marked_other = _marked(view.current, view.other)
    where = f"<p>The other version is also in <code>{escape(conflict.path or '')}</code>.</p>"
    return (
        f'<div class="conflict" id="conflict-{conflict.id}">'
        f"<p><code>{escape(conflict.href)}</code>, {escape(age(conflict.created))}: "
        f"{escape(_OUTCOMES.get(conflict.outcome, conflict.outcome))} (fields: {escape(fields)})"
        f"</p>{where if conflict.path else ''}"
        '<div class="sides">'
        f"{_side('In the address book now', marked_current, conflict.id, 'current', csrf)}"
        f"{_side('The other version', marked_other, conflict.id, 'other', csrf)}"
        "</div></div>"
    )


_OUTCOMES = {
    "remote-wins": "edited here and in Aurinko; Aurinko's edit was kept",
    "local-wins": "edited here and in Aurinko; this edit was kept",
    "deleted-remotely": "deleted in Aurinko while edited here; the deletion was kept",
}


def _side(title: str, card: str, conflict_id: int, side: str, csrf: str) -> str:
    return (
        f'<div class="side"><h3>{escape(title)}</h3><pre>{card}</pre>'
        f'<form method="post" action="conflicts/{conflict_id}">{_csrf(csrf)}'
        f'<button name="keep" value="{side}" id="keep-{side}-{conflict_id}">Keep this</button>'
        "</form></div>"
    )


def _marked(current: str | None, other: str | None) -> tuple[str, str]:
    """Both cards escaped, each line the other lacks marked."""
    mine, theirs = _lines(current), _lines(other)
    return _mark(mine, set(theirs), "(deleted)"), _mark(theirs, set(mine), "(deleted)")


def _lines(card: str | None) -> list[str]:
    if card is None:
        return []
    unfolded = card.replace("\r\n ", "").replace("\r\n\t", "").replace("\n ", "")
    return [line for line in unfolded.splitlines() if line]


def _mark(lines: Iterable[str], other: set[str], empty: str) -> str:
    shown = [escape(line) if line in other else f"<mark>{escape(line)}</mark>" for line in lines]
    return "\n".join(shown) or escape(empty)


def _csrf(token: str) -> str:
    return f'<input type="hidden" name="csrf" value="{escape(token)}">'


def message(title: str, text: str, back: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1><p>{escape(text)}</p>"
        f'<p><a href="{escape(back)}">Back to the status page</a></p></body></html>'
    )
