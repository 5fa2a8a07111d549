"""A real headless Chromium (Debian's package) driven by Playwright, for the pages a user
opens in a browser: the sandbox's consent page and the bridge's status page.

``.ci/ensure-chromium`` (run by ``make test``) installs the browser; a missing one fails
the tests that need it rather than skipping them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

# Without the networking switches Chromium keeps calling Google's hosts, which a closed
# network refuses; none of them changes what a page does.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]


def chromium_path() -> str:
    configured = os.environ.get("BRIDGE_CHROMIUM")
    found = configured or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found or not Path(found).exists():
        pytest.fail("Chromium is not installed: run .ci/ensure-chromium (make test does)")
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies, no saved logins) and one page in it."""
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()
