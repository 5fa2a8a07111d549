"""Webhook tokens are redacted from every log record, whichever logger makes it."""

from __future__ import annotations

import logging

import pytest

from bridge.webhooks import redact

TOKEN = "0123456789abcdef" * 2
URL = "https://bridge.example.org/.bridge/webhooks/aurinko/" + TOKEN


def test_tokens_in_urls_and_paths_are_redacted() -> None:
    assert redact.redact(f"check of {URL} failed") == (
        "check of https://bridge.example.org/.bridge/webhooks/aurinko/<token> failed"
    )
    line = f'"POST /.bridge/webhooks/aurinko/{TOKEN}?validationToken=x HTTP/1.1" 200'
    assert redact.redact(line) == (
        '"POST /.bridge/webhooks/aurinko/<token>?validationToken=x HTTP/1.1" 200'
    )
    assert redact.redact("nothing to hide") == "nothing to hide"


def test_every_logger_is_covered_once_installed(caplog: pytest.LogCaptureFixture) -> None:
    redact.install()
    redact.install()  # once per process, however often asked
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("bridge.httpserver").debug("%s - %s", "127.0.0.1", f"POST {URL}")
        logging.getLogger("some.library").warning("failed: %r", {"url": URL})
        logging.getLogger("bridge.webhooks").info("%d%% done, no token", 50)
        try:
            raise ValueError(f"cannot reach {URL}")
        except ValueError:
            logging.getLogger("bridge.webhooks").exception("checking failed")
    text = "\n".join(caplog.text.splitlines() + [r.getMessage() for r in caplog.records])
    assert TOKEN not in text
    assert text.count("/.bridge/webhooks/aurinko/<token>") >= 3
    assert "50% done, no token" in text
