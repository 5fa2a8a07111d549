"""WebDAV-Push's XML (draft-bitfire-webdav-push, namespace ``https://bitfire.at/webdav-push``):
the properties an address book advertises, the ``push-register`` body a client subscribes
with, the ``push-message`` it is sent, and the error bodies of a refused registration."""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import SplitResult, urlsplit, urlunsplit
from xml.sax.saxutils import escape

PUSH = "https://bitfire.at/webdav-push"
DAV = "DAV:"
# The reason for a refusal, for people: DAV:error may hold any element besides its
# condition, and clients ignore those they do not know.
BRIDGE = "urn:x-aurinko-bridge"
ENCODING = "aes128gcm"  # RFC 8188/8291: the only content encoding the draft defines
MAX_ENDPOINT = 2048


def push(name: str) -> str:
    return f"{{{PUSH}}}{name}"


def dav(name: str) -> str:
    return f"{{{DAV}}}{name}"


TRANSPORTS, TOPIC, SUPPORTED_TRIGGERS = (
    push("transports"),
    push("topic"),
    push("supported-triggers"),
)
PROPERTIES = (TRANSPORTS, TOPIC, SUPPORTED_TRIGGERS)
PUSH_REGISTER = push("push-register")

# Preconditions of a 403 to a registration (the draft's section "Response").
INVALID_SUBSCRIPTION = "invalid-subscription"
PUSH_NOT_AVAILABLE = "push-not-available"
NO_SUPPORTED_TRIGGER = "no-supported-trigger"


class RegistrationError(ValueError):
    """A ``push-register`` the server refuses: the draft's precondition, and why."""

    def __init__(self, condition: str, reason: str) -> None:
        super().__init__(reason)
        self.condition = condition
        self.reason = reason


@dataclass(frozen=True)
class Registration:
    """A Web Push subscription as a client registers it."""

    endpoint: str  # the push resource
    public_key: str  # p256dh, base64url without padding
    auth_secret: str  # base64url without padding
    content_encoding: str
    expires: float | None  # what the client asked for (epoch seconds), if anything valid


# -- properties --------------------------------------------------------------------------


def property_element(tag: str, topic: str, vapid_public_key: str) -> ET.Element:
    """The value of one of ``PROPERTIES`` for an address book of topic ``topic``."""
    element = ET.Element(tag)
    if tag == TRANSPORTS:
        web_push = ET.SubElement(element, push("web-push"))
        key = ET.SubElement(web_push, push("vapid-public-key"), {"type": "p256ecdsa"})
        key.text = vapid_public_key
    elif tag == TOPIC:
        element.text = topic
    elif tag == SUPPORTED_TRIGGERS:
        # Content updates of the book's cards (depth 1); its properties (display name...)
        # live only in this store and are not watched.
        content = ET.SubElement(element, push("content-update"))
        ET.SubElement(content, dav("depth")).text = "1"
    else:
        raise ValueError(f"not a WebDAV-Push property: {tag}")
    return element


def asked_properties(body: bytes) -> tuple[str, ...]:
    """The WebDAV-Push properties a PROPFIND body names in its ``DAV:prop``. They are live
    properties of this extension: ``allprop`` and ``propname`` do not list them."""
    if PUSH.encode() not in body:
        return ()
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return ()
    prop = root.find(dav("prop")) if root.tag == dav("propfind") else None
    if prop is None:
        return ()
    return tuple(dict.fromkeys(child.tag for child in prop if child.tag in PROPERTIES))


# -- registration ------------------------------------------------------------------------


def register_root(body: bytes) -> ET.Element | None:
    """The ``push-register`` element of a POST body, or None when the body is another
    request. ET.ParseError when it is not XML at all."""
    if not body.strip():
        return None
    root = ET.fromstring(body)
    return root if root.tag == PUSH_REGISTER else None


def parse_registration(root: ET.Element, *, allow_http: bool = False) -> Registration:
    """The subscription a ``push-register`` element asks for; RegistrationError if the
    server cannot take it."""
    subscriptions = root.findall(push("subscription"))
    if len(subscriptions) != 1:
        raise RegistrationError(INVALID_SUBSCRIPTION, "exactly one subscription is required")
    web_push = subscriptions[0].findall(push("web-push-subscription"))
    if len(web_push) != 1 or len(subscriptions[0]) != 1:
        raise RegistrationError(
            INVALID_SUBSCRIPTION, "the subscription must be one web-push-subscription"
        )
    subscription = web_push[0]
    endpoint = _endpoint(_text(subscription, "push-resource"), allow_http)
    # DAVx5 (4.4) leaves content-encoding out: aes128gcm is the only one there is.
    encoding = (_text(subscription, "content-encoding", required=False) or ENCODING).strip()
    if encoding != ENCODING:
        raise RegistrationError(
            INVALID_SUBSCRIPTION, f"content-encoding {encoding!r} is not supported (aes128gcm)"
        )
    key_element = subscription.find(push("subscription-public-key"))
    key_type = key_element.get("type", "p256dh") if key_element is not None else "p256dh"
    if key_type != "p256dh":
        raise RegistrationError(
            INVALID_SUBSCRIPTION, f"subscription-public-key type {key_type!r} is not p256dh"
        )
    public_key = _public_key(_text(subscription, "subscription-public-key"))
    auth_secret = _auth_secret(_text(subscription, "auth-secret"))
    _check_trigger(root)
    return Registration(
        endpoint=endpoint,
        public_key=public_key,
        auth_secret=auth_secret,
        content_encoding=ENCODING,
        expires=_expires(root.findtext(push("expires"))),
    )


def _text(parent: ET.Element, name: str, *, required: bool = True) -> str:
    found = parent.findall(push(name))
    if len(found) > 1 or (required and not found):
        raise RegistrationError(
            INVALID_SUBSCRIPTION, f"the web-push-subscription needs exactly one {name}"
        )
    text = (found[0].text or "").strip() if found else ""
    if required and not text:
        raise RegistrationError(INVALID_SUBSCRIPTION, f"{name} is empty")
    return text


def _endpoint(url: str, allow_http: bool) -> str:
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_http else ("https",)
    if len(url) > MAX_ENDPOINT or parts.scheme not in schemes or not parts.hostname:
        wanted = "an http(s)" if allow_http else "an https"
        raise RegistrationError(
            INVALID_SUBSCRIPTION, f"push-resource must be {wanted} URL, not {url[:100]!r}"
        )
    if any(c.isspace() for c in url) or parts.fragment or parts.username or parts.password:
        raise RegistrationError(INVALID_SUBSCRIPTION, "push-resource is not a plain URL")
    return _canonical(parts)


def _canonical(parts: SplitResult) -> str:
    """The push resource in one spelling (scheme and host in lower case, no default port,
    ``/`` for an empty path), so that a second registration of it is a renewal."""
    try:
        port = parts.port
    except ValueError:
        raise RegistrationError(INVALID_SUBSCRIPTION, "push-resource has a bad port") from None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != {"https": 443, "http": 80}[parts.scheme]:
        netloc = f"{netloc}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def b64decode(text: str) -> bytes:
    """base64url, with or without padding (the standard alphabet is taken too)."""
    cleaned = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _public_key(text: str) -> str:
    # Imported here: the cryptography library costs ~10 MiB, paid once push is used.
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        raw = b64decode(text)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 65:
        raise RegistrationError(
            INVALID_SUBSCRIPTION,
            "subscription-public-key must be an uncompressed P-256 point, base64url",
        )
    return b64encode(raw)


def _auth_secret(text: str) -> str:
    try:
        raw = b64decode(text)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 16:
        raise RegistrationError(INVALID_SUBSCRIPTION, "auth-secret must be 16 bytes, base64url")
    return b64encode(raw)


def _check_trigger(root: ET.Element) -> None:
    """Content updates (any depth: served as depth 1) are what this server notifies of.
    A request without a trigger asks for them too: DAVx5 4.4 sends none."""
    trigger = root.find(push("trigger"))
    if trigger is None or trigger.find(push("content-update")) is not None:
        return
    raise RegistrationError(
        NO_SUPPORTED_TRIGGER,
        "only content-update triggers are supported (property updates are not)",
    )


def _expires(text: str | None) -> float | None:
    """An IMF-fixdate; anything else counts as no request (the server's default applies)."""
    if not text or not text.strip():
        return None
    try:
        when = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return when.timestamp()


def error_body(condition: str, reason: str) -> bytes:
    """A 403's ``DAV:error`` with the draft's precondition, and the reason for people."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<D:error xmlns:D="DAV:" xmlns:P="{PUSH}" xmlns:B="{BRIDGE}">'
        f"<P:{condition}/><B:reason>{escape(reason)}</B:reason></D:error>\n"
    ).encode()


# -- push message ------------------------------------------------------------------------


def push_message(topic: str, sync_token: str | None) -> bytes:
    """The draft's ``push-message`` for a content update of the book ``topic``: the new
    sync token lets a client that already has it skip the sync."""
    token = f"<D:sync-token>{escape(sync_token)}</D:sync-token>" if sync_token else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<push-message xmlns="{PUSH}" xmlns:D="DAV:">'
        f"<topic>{escape(topic)}</topic><content-update>{token}</content-update>"
        "</push-message>\n"
    ).encode()
