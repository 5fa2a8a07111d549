"""The HTML a person sees during the OAuth flow: the consent page and error pages.

Plain HTML, no script, every value escaped. The headers forbid framing (no clickjacking
of the Approve button), caching (the page holds a single-use request id) and loading
anything. ``form-action`` lists the return URL's origin besides 'self' because Chromium
applies it to the whole redirect chain after a submit: with 'self' alone the 303 from
``/v1/auth/consent`` to the application is blocked.
"""

from __future__ import annotations

from html import escape

from bridge.sandbox import returnurls
from bridge.sandbox.oauth import AuthorizeRequest
from bridge.sandbox.wire import Response

CONSENT_PATH = "/v1/auth/consent"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; padding: 1.5rem; line-height: 1.5;
       color: #1b1b1b; background: #f6f6f6; }
main { max-width: 32rem; margin: 0 auto; background: #fff; padding: 1.5rem;
       border-radius: .5rem; box-shadow: 0 1px 3px rgba(0,0,0,.15); }
h1 { font-size: 1.3rem; margin-top: 0; }
code { word-break: break-all; }
.buttons { display: flex; gap: .75rem; flex-wrap: wrap; margin-top: 1.5rem; }
button { font-size: 1rem; padding: .7rem 1.4rem; border-radius: .4rem; border: 1px solid #888;
         cursor: pointer; flex: 1 1 8rem; }
#approve { background: #1a5fb4; color: #fff; border-color: #1a5fb4; }
.note { color: #555; font-size: .9rem; }
"""


def _headers(form_target: str | None) -> list[tuple[str, str]]:
    form_action = "'none'" if form_target is None else f"'self' {form_target}"
    policy = (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
        f"frame-ancestors 'none'; form-action {form_action}"
    )
    return [
        ("Cache-Control", "no-store"),
        ("X-Frame-Options", "DENY"),
        ("Content-Security-Policy", policy),
        ("Referrer-Policy", "no-referrer"),
        ("X-Content-Type-Options", "nosniff"),
    ]


def _document(title: str, body: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    ).encode()


def consent_page(request: AuthorizeRequest, request_id: str) -> Response:
    scopes = ", ".join(request.scopes) if request.scopes else "no particular scopes"
    body = f"""<h1>Allow access to your {escape(request.service_type)} contacts?</h1>
<p>The application <code>{escape(request.client_id)}</code> asks for access to your
{escape(request.service_type)} contacts ({escape(scopes)}).</p>
<p class="note">This is the Aurinko sandbox: no real account is involved. Your answer is
sent to <code>{escape(returnurls.origin(request.return_url))}</code>.</p>
<form method="post" action="{CONSENT_PATH}">
<input type="hidden" name="requestId" value="{escape(request_id)}">
<div class="buttons">
<button id="approve" name="decision" value="approve">Approve</button>
<button id="deny" name="decision" value="deny">Deny</button>
</div>
</form>"""
    headers = _headers(returnurls.origin(request.return_url))
    return Response.html(200, _document("Allow access? - Aurinko sandbox", body), headers)


def error_page(status: int, message: str) -> Response:
    body = f"""<h1>The authorization request cannot go on</h1>
<p>{escape(message)}</p>
<p class="note">Aurinko sandbox. Nothing was sent back to the application.</p>"""
    return Response.html(
        status, _document("Authorization error - Aurinko sandbox", body), _headers(None)
    )


def redirect(location: str) -> Response:
    """303 to the application: the browser follows it with a GET, whatever it POSTed."""
    return Response(303, b"", [("Location", location), ("Cache-Control", "no-store"),
                               ("Referrer-Policy", "no-referrer")])  # fmt: skip
