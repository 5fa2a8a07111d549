"""A local, faithful stand-in for the Aurinko Contacts API (WSGI app over SQLite).

Written from the wire contract (``aurinko-contacts-api.md``) alone: it imports nothing
else from ``bridge``, so a misreading of the contract cannot hide on both sides.

Choices the contract leaves open, as the sandbox makes them:

- ``If-Match`` is compared with the contact's opaque etag after stripping one pair of
  surrounding double quotes from each, so ``abc`` and ``"abc"`` both match; ``*`` does
  not, nor does ``W/"..."`` unless weak etags are switched on. A missing or stale
  ``If-Match`` on PATCH answers 412 ``precondition.failed``. PATCH checks the body (400,
  the profile's rules included) before the id (404) and the etag.
- A top-level ``null`` removes a field, and so does a photo without content; a field left
  out is kept (see docs/aurinko-contract-notes.md). A provider profile (``ProfileConfig``:
  ``generic``, ``office365``, ``google``, see ``profiles.py``) says what a contact may
  hold, and switches of any profile give weak etags, short write answers, strict bodies
  (``null`` refused too), a PATCH that ignores ``null`` and one that ignores empty values;
  ``/_sandbox/profile`` (GET, PUT: replaces every setting, like ``/_sandbox/faults``)
  changes them at run time. Seed contacts are stored as given, whatever the profile.
- DELETE answers 200 with an empty body. ``withPhoto=true`` also works on POST and PATCH
  answers; ``bodyType``, ``nativeProperties`` and ``includeUpdateToken`` are accepted
  and have no effect. ``canonicalForm`` is given only to numbers written with ``+`` or
  ``00`` (no region is known for national numbers).
- Sync requests take ``deltaToken`` or ``pageToken``; both or neither answer 400
  ``badRequest``. A bad token answers 400 ``token.notValid``; an expired one (older than
  ``token_ttl``, or below the compaction floor) 410 ``syncToken.expired``. A page token's
  age counts from its own issue; list (``GET /v1/contacts``) tokens never expire.
- Faults apply to ``/v1`` only, before authentication. A drop closes the socket without
  a byte of answer when served by ``serve_in_thread``; in-process (e.g.
  ``httpx.WSGITransport``) the app raises ``ConnectionDropped`` (a ``ConnectionError``)
  out of the request instead, after committing the write when ``after_acting``.
- ``/_sandbox/compact`` (POST), ``/_sandbox/faults`` (GET, PUT: replaces every setting,
  absent keys take their defaults; JSON keys are ``FaultConfig``'s field names),
  ``/_sandbox/profile`` (the same, with ``ProfileConfig``'s) and ``/_sandbox/contacts``
  (GET) take an account's bearer token and are never faulted. Fault and profile settings
  are global to the sandbox; compaction and dumps are per account.
- Aurinko's Account OAuth flow (``oauth.py``, ``auth.py``, ``pages.py``) runs when
  ``client_id``/``client_secret`` are configured (``--client-id``, ``--client-secret``).
  ``GET /v1/auth/authorize`` shows the sandbox's own consent page in place of the
  provider's sign-in; ``responseType`` defaults to ``code`` and ``token`` (the implicit
  flow) is refused. The return URL must be registered (``return_urls``, ``--return-url``,
  ``SandboxApp.register_return_url``, ``POST /_sandbox/return-urls``), matched exactly.
  A bad request, or consent form, is an HTML page (400) for the person in the browser
  (the ``{code, message}`` envelope for a caller that accepts only JSON), never a
  redirect to an unchecked return URL. ``POST
  /v1/auth/consent`` answers 303 to the return URL with ``code`` and ``state``, or
  ``error=access_denied``. ``POST /v1/auth/token/{code}`` (HTTP Basic) answers
  ``{accountId, accessToken}`` for a new, empty account; a bad code answers 400
  ``code.invalid``, bad or missing credentials 401 ``unauthorized``; the deprecated GET
  works as POST does (with ``Deprecation: true``). With no application configured, the
  pages say so (400) and the exchange answers 401. ``/v1/auth/*`` is never faulted.
  ``accountId`` on authorize re-authorizes that live account: the exchange gives it a new
  token (the old one answers 401 ``token.dead``) and an active grant, its contacts and
  subscriptions kept.
- ``GET /v1/account`` describes the token's account (``ApiAccountOutDto``, see
  ``accounts.py``); ``DELETE /v1/account`` deletes its contacts and kills its token (401
  ``token.dead``); a configured token gets a new, empty account at the next start.
  ``DELETE /v1/account/token`` kills the token alone: the account stays, its grant dead.
  ``/_sandbox/account`` (PUT ``{"tokenStatus": "dead"|"invalid"|"active"}``) or
  ``SandboxApp.set_token_status`` kills or revives the caller's provider grant: while it
  is not active ``/v1/contacts*`` answer 401 ``token.refresh.failed`` (``token.invalid``)
  and ``GET /v1/account`` says so in ``tokenStatus``.
- Aurinko's Webhooks API (``subscriptions.py``, ``webhooks.py``) for the ``/contacts``
  resource: ``POST /v1/subscriptions`` validates the notification URL with a signed
  ``validationToken`` handshake first (400 ``subscription.validationFailed`` when it
  fails) and is refused (400) while no ``signing_secret`` (``--signing-secret``) is set;
  ``GET`` lists (``SubscriptionsPage``), ``GET``/``DELETE /v1/subscriptions/{id}``. Every
  committed create, update and delete of a contact is notified, signed, from a delivery
  thread, to the account's active subscriptions; ``webhook_max_failures`` failed attempts
  in a row deactivate one. ``WebhookFaults`` (``/_sandbox/webhooks``, GET and PUT, like
  ``/_sandbox/faults``) drop, delay, duplicate and mis-sign notifications;
  ``/_sandbox/subscriptions`` (GET) lists the caller's with delivery counts and
  ``/_sandbox/subscriptions/{id}/lapse`` (POST) deactivates one.
"""

from bridge.sandbox.app import SandboxApp
from bridge.sandbox.config import FaultConfig, SandboxConfig, WebhookFaults
from bridge.sandbox.errors import ConnectionDropped
from bridge.sandbox.profiles import ProfileConfig
from bridge.sandbox.seed import SeedError
from bridge.sandbox.server import RunningSandbox, serve_in_thread
from bridge.sandbox.webhooks import DeliveryCounts

__all__ = [
    "ConnectionDropped",
    "DeliveryCounts",
    "FaultConfig",
    "ProfileConfig",
    "RunningSandbox",
    "SandboxApp",
    "SandboxConfig",
    "SeedError",
    "WebhookFaults",
    "serve_in_thread",
]
