"""WebDAV-Push's XML as the draft writes it (its own samples), and ``[push]``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bridge.config import ConfigError, PushConfig, parse_config
from bridge.push.http import dont_notify
from bridge.push.protocol import (
    INVALID_SUBSCRIPTION,
    PUSH,
    RegistrationError,
    asked_properties,
    parse_registration,
    push_message,
    register_root,
)

# The draft's xml/sample-push-register.xml.
SAMPLE_REGISTER = b"""<push-register xmlns="https://bitfire.at/webdav-push" xmlns:D="DAV:">
  <subscription>
    <web-push-subscription>
      <push-resource>https://up.example.net/yohd4yai5Phiz1wi</push-resource>
      <content-encoding>aes128gcm</content-encoding>
      <subscription-public-key type="p256dh">BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4</subscription-public-key>
      <auth-secret>BTBZMqHH6r4Tts7J_aSIgg</auth-secret>
    </web-push-subscription>
  </subscription>
  <trigger>
    <content-update>
      <D:depth>infinity</D:depth>
    </content-update>
    <property-update>
      <D:depth>0</D:depth>
      <D:prop>
        <D:displayname/>
        <D:owner/>
      </D:prop>
    </property-update>
  </trigger>
  <expires>Wed, 20 Dec 2023 10:03:31 GMT</expires>
</push-register>"""


def test_the_drafts_sample_registration_is_read() -> None:
    root = register_root(SAMPLE_REGISTER)
    assert root is not None
    registration = parse_registration(root)
    assert registration.endpoint == "https://up.example.net/yohd4yai5Phiz1wi"
    assert registration.content_encoding == "aes128gcm"
    assert registration.auth_secret == "BTBZMqHH6r4Tts7J_aSIgg"
    assert registration.expires == 1703066611.0


def test_plain_http_push_resources_only_when_allowed() -> None:
    root = register_root(SAMPLE_REGISTER.replace(b"https://up", b"http://up"))
    assert root is not None
    with pytest.raises(RegistrationError) as refused:
        parse_registration(root)
    assert refused.value.condition == INVALID_SUBSCRIPTION
    assert parse_registration(root, allow_http=True).endpoint.startswith("http://")


def test_other_bodies_are_not_registrations() -> None:
    assert register_root(b"") is None
    assert register_root(b'<D:propfind xmlns:D="DAV:"/>') is None
    with pytest.raises(ET.ParseError):
        register_root(b"<push-register")


def test_the_push_message_has_the_drafts_shape() -> None:
    root = ET.fromstring(push_message("O7M1nQ7cKkKTKsoS_j6Z3w", "http://example.com/sync/10"))
    assert root.tag == f"{{{PUSH}}}push-message"
    assert root.findtext(f"{{{PUSH}}}topic") == "O7M1nQ7cKkKTKsoS_j6Z3w"
    assert root.findtext(f"{{{PUSH}}}content-update/{{DAV:}}sync-token") == (
        "http://example.com/sync/10"
    )


def test_only_named_push_properties_are_asked_for() -> None:
    body = (
        f'<D:propfind xmlns:D="DAV:" xmlns:P="{PUSH}"><D:prop><D:getetag/><P:topic/>'
        "<P:transports/><P:unknown/></D:prop></D:propfind>"
    ).encode()
    assert asked_properties(body) == (f"{{{PUSH}}}topic", f"{{{PUSH}}}transports")
    assert asked_properties(b'<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>') == ()


def test_push_dont_notify_names_registrations_or_everyone() -> None:
    header = '"https://dav.example/.push/12", "https://dav.example/other", "/.push/3"'
    assert dont_notify(header) == frozenset({12, 3})
    assert dont_notify(" * ") is None
    assert dont_notify("garbage") == frozenset()


def test_push_configuration(tmp_path: Path) -> None:
    assert parse_config({}, tmp_path).push == PushConfig()
    config = parse_config(
        {"push": {"contact": "mailto:me@example.org", "allow_http": True, "enabled": False}},
        tmp_path,
    )
    assert config.push == PushConfig(
        enabled=False, contact="mailto:me@example.org", allow_http=True
    )
    assert parse_config({"push": {"contact": "https://example.org/"}}, tmp_path).push.contact
    for bad in (
        {"contact": "me@example.org"},
        {"contact": "http://example.org"},
        {"enabled": "yes"},
        {"pushy": True},
    ):
        with pytest.raises(ConfigError):
            parse_config({"push": bad}, tmp_path)


def test_push_limits_and_allowed_hosts_are_configured(tmp_path: Path) -> None:
    default = PushConfig()
    assert default.allow_hosts == () and default.allow_http is False
    assert (default.max_subscriptions_per_user, default.max_messages_per_minute) == (50, 30)
    table = {
        "allow_hosts": ["Push.Internal.Example", "10.1.2.3", "[fd00::5]", "10.1.2.3"],
        "max_subscriptions_per_user": 5,
        "max_messages_per_minute": 12,
    }
    push = parse_config({"push": table}, tmp_path).push
    assert push.allow_hosts == ("push.internal.example", "10.1.2.3", "fd00::5")
    assert (push.max_subscriptions_per_user, push.max_messages_per_minute) == (5, 12)
    for bad in (
        {"allow_hosts": "push.internal.example"},
        {"allow_hosts": [7]},
        {"allow_hosts": ["https://push.internal.example"]},
        {"allow_hosts": ["push.internal.example:8443"]},
        {"allow_hosts": ["push.internal.example/path"]},
        {"allow_hosts": [" "]},
        {"max_subscriptions_per_user": 0},
        {"max_subscriptions_per_user": 2.5},
        {"max_messages_per_minute": -1},
        {"max_messages_per_minute": True},
    ):
        with pytest.raises(ConfigError):
            parse_config({"push": bad}, tmp_path)


def test_a_push_resource_is_kept_in_one_spelling() -> None:
    """A second registration of one push resource, spelled otherwise, is a renewal."""
    spellings = (
        "https://up.example.net/yohd4yai5Phiz1wi",
        "HTTPS://UP.Example.NET:443/yohd4yai5Phiz1wi",
    )
    endpoints = set()
    for spelling in spellings:
        root = register_root(SAMPLE_REGISTER)
        assert root is not None
        resource = root.find(f".//{{{PUSH}}}push-resource")
        assert resource is not None
        resource.text = spelling
        endpoints.add(parse_registration(root).endpoint)
    assert endpoints == {"https://up.example.net/yohd4yai5Phiz1wi"}
