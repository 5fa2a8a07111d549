"""The status page's HTML: server-rendered, no script, readable on a phone.

Every value that comes from a card, a path or an error is escaped here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from ..status import BookStatus, ParkedWrite, TokenState, age, token_words
from ..store.kinds import BookKind
from .people import ConflictView, Row, refusal

_STYLE = """
body{font:16px/1.45 system-ui,sans-serif;margin:0 auto;max-width:64rem;padding:0 1rem 2rem;
color:#1d1d1f}
h1{font-size:1.45rem}h2{font-size:1.2rem;margin:1.8rem 0 .3rem}
h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
h4{font-size:1.1rem;margin:0 0 .2rem}.sub{color:#555;font-weight:400;font-size:.95rem}
section.book{border-top:2px solid #888;margin-top:1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem}
dt{font-weight:600}dd{margin:0}dd,td,p{overflow-wrap:anywhere}
.bad{color:#a00;font-weight:600}.ok{color:#060}.notice{background:#eef6ee;padding:.5rem .8rem}
.card{border:1px solid #ccc;border-radius:.5rem;padding:.8rem;margin:.8rem 0}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;vertical-align:top;padding:.35rem .5rem;border-top:1px solid #e4e4e4}
thead th{border-top:0;font-size:.95rem}tbody th{font-weight:600;width:9rem}
tr.differs{background:#fff4d6}tr.differs th::after{content:" differs";font-weight:400;
font-size:.8rem;color:#8a5a00;display:block}
td label{display:flex;gap:.4rem;align-items:flex-start;cursor:pointer}
td input{margin-top:.3rem}.none{color:#777;font-style:italic}.who{display:none}
button{font-size:1rem;padding:.45rem .9rem;margin:.3rem .4rem .2rem 0}
p.actions{margin:.4rem 0 0}form{margin:0}
@media (max-width:40rem){dl{grid-template-columns:minmax(0,3fr) minmax(0,2fr)}
thead{display:none}tr{display:grid;grid-template-columns:1fr 1fr}
tbody th{grid-column:1/3;width:auto;padding-bottom:0}td{border-top:0}
.who{display:block;font-size:.8rem;color:#555}button{width:100%}}
"""

_TOKEN = {
    TokenState.OK: ("ok", "connected"),
    TokenState.REFUSED: ("bad", "refused: link the account again"),
    TokenState.DEAD: ("bad", ""),  # words with the command to run: ``token_words``
    TokenState.RETRYING: ("bad", ""),
    TokenState.UNREACHABLE: ("bad", "not checked: the account did not answer"),
    TokenState.UNREADABLE: ("bad", "the token cannot be read"),
    TokenState.UNCHECKED: ("", "not checked"),
    TokenState.LOCAL: ("", "none (a local address book)"),
}


@dataclass(frozen=True)
class ParkedView:
    parked: ParkedWrite
    what: str  # "Changing Email of Ann Example"


@dataclass(frozen=True)
class HeldView:
    name: str
    fields: list[tuple[str, str]]  # (label, value) Aurinko refused; the card keeps them
    removed: list[str] = field(default_factory=list)  # labels Aurinko did not remove


@dataclass(frozen=True)
class BookView:
    status: BookStatus
    provider: str
    conflicts: list[ConflictView] = field(default_factory=list)
    parked: list[ParkedView] = field(default_factory=list)
    held: list[HeldView] = field(default_factory=list)


def page(user: str, books: list[BookView], csrf: str, notice: str | None) -> str:
    shown = "".join(_book(b, csrf) for b in books) or "<p>No address books.</p>"
    banner = f'<p class="notice" role="status">{escape(notice)}</p>' if notice else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="csrf" content="{escape(csrf)}">'
        f"<title>Address books of {escape(user)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Address books of {escape(user)}</h1>{banner}{shown}"
        '<p><a href="./">Refresh</a></p></body></html>'
    )


def _account(status: BookStatus, provider: str) -> str:
    if status.kind != BookKind.AURINKO:
        return "none: lives only in the bridge"
    token = status.token
    if not token.provider:
        return status.account_name or status.name
    return f"{provider} ({token.who})" if token.who else provider


def _book(view: BookView, csrf: str) -> str:
    status = view.status
    css, words = _TOKEN[status.token.state]
    words = words or token_words(status)
    detail = status.token.detail if status.token.state is not TokenState.OK else ""
    remote = view.provider if status.token.provider else "the account"
    facts = [
        ("Account", escape(_account(status, view.provider))),
        ("Connection", f'<span class="{css}">{escape(words)}</span>'
         + (f" ({escape(detail)})" if detail else "")),
        (f"Last update from {escape(remote)}", escape(age(status.last_pull))),
        (f"Last change sent to {escape(remote)}", escape(age(status.last_push))),
        ("Contacts", str(status.contacts)),
        ("Changes waiting to be sent", str(status.waiting)),
        ("Changes refused", str(len(status.parked))),
        ("Conflicts to settle", str(len(view.conflicts))),
    ]  # fmt: skip
    rows = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    parked = "".join(_parked(p, view.provider, csrf) for p in view.parked)
    held = "".join(_held(h, view.provider) for h in view.held)
    kept = "".join(_conflict(c, csrf) for c in view.conflicts)
    title = status.account_name or status.name
    return (
        f'<section class="book" id="book-{escape(status.owner)}-{escape(status.name)}">'
        f'<h2>{escape(title)} <span class="sub">{escape(status.path)}</span></h2><dl>{rows}</dl>'
        f"{'<h3>Conflicts to settle</h3>' + kept if kept else ''}"
        f"{'<h3>Changes refused</h3>' + parked if parked else ''}"
        f"{f'<h3>Fields {escape(remote)} would not take</h3>' + held if held else ''}</section>"
    )


def _parked(view: ParkedView, provider: str, csrf: str) -> str:
    op = view.parked
    return (
        f'<div class="card parked" id="parked-{op.id}"><h4>{escape(view.what)}</h4>'
        f"<p>{escape(provider)} refused it after {_tries(op.attempts)}:"
        f" {escape(refusal(op.reason))}</p>"
        f'<form method="post" action="parked/{op.id}">{_csrf(csrf)}<p class="actions">'
        '<button name="action" value="retry">Send again</button>'
        '<button name="action" value="drop">Give up (the card stays as it is)</button>'
        "</p></form></div>"
    )


def _held(view: HeldView, provider: str) -> str:
    items = "".join(
        f"<dt>{escape(label)}</dt><dd>{escape(value) or '&nbsp;'}</dd>"
        for label, value in view.fields
    )
    kept = (
        f"<p>{escape(provider)} did not take these; the card here keeps them.</p><dl>{items}</dl>"
        if items
        else ""
    )
    removed = "".join(
        f"<p>{escape(label)} removed here, but {escape(provider)} did not remove it: it keeps"
        " its value there, and the card here keeps your removal.</p>"
        for label in view.removed
    )
    return f'<div class="card held"><h4>{escape(view.name)}</h4>{kept}{removed}</div>'


def _tries(count: int) -> str:
    return "1 try" if count == 1 else f"{count} tries"


def _conflict(view: ConflictView, csrf: str) -> str:
    head = (
        "<thead><tr><th>Field</th>"
        f"<th>{escape(view.mine)}</th><th>{escape(view.theirs)}</th></tr></thead>"
    )
    body = "".join(_row(view, row) for row in view.rows)
    return (
        f'<div class="card conflict" id="conflict-{view.id}"><h4>{escape(view.name)}</h4>'
        f"<p>{escape(view.what)}</p>"
        f'<form method="post" action="conflicts/{view.id}">{_csrf(csrf)}'
        f"<table>{head}<tbody>{body}</tbody></table>{_buttons(view)}</form></div>"
    )


def _buttons(view: ConflictView) -> str:
    if view.whole:
        mine = "Keep mine" if view.gone != "mine" else "Delete it"
        theirs = "Keep theirs" if view.gone != "theirs" else "Delete it"
        return (
            '<p class="actions">'
            f'<button name="settle" value="mine" id="mine-{view.id}">{mine}</button>'
            f'<button name="settle" value="theirs" id="theirs-{view.id}">{theirs}</button></p>'
        )
    return (
        '<p class="actions">'
        f'<button name="settle" value="choices" id="settle-{view.id}">Keep my choices</button>'
        f'<button name="settle" value="mine" id="mine-{view.id}">Mine for all</button>'
        f'<button name="settle" value="theirs" id="theirs-{view.id}">Theirs for all</button>'
        '</p><p class="sub">Changes outside the fields that differ are kept from both sides.</p>'
    )


def _row(view: ConflictView, row: Row) -> str:
    cells = "".join(
        _cell(view, row, side, lines, title)
        for side, lines, title in (
            ("mine", row.mine, view.mine),
            ("theirs", row.theirs, view.theirs),
        )
    )
    css = ' class="differs"' if row.differs else ""
    return f'<tr{css}><th scope="row">{escape(row.label)}</th>{cells}</tr>'


def _cell(view: ConflictView, row: Row, side: str, lines: list[str], title: str) -> str:
    gone = view.gone == side
    shown = "<br>".join(escape(line) for line in lines) or (
        '<span class="none">deleted</span>' if gone else '<span class="none">empty</span>'
    )
    who = f'<span class="who">{escape(title)}</span>'
    if not row.choice:
        return f"<td>{who}{shown}</td>"
    ident = f"c{view.id}-{escape(row.path)}-{side}"
    checked = " checked" if side == view.kept else ""
    return (
        f'<td><label for="{ident}"><input type="radio" id="{ident}"'
        f' name="field:{escape(row.path)}" value="{side}"{checked}>'
        f"<span>{who}{shown}</span></label></td>"
    )


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
