"""The README's configuration blocks, loaded as written: each TOML block of "Configuration",
"Linking an account", "Real time" and "WebDAV-Push" is a valid configuration, means what its
comments say, and each commented-out line, uncommented, is valid and names the default."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from bridge.config import AurinkoApp, Config, PushConfig, WebhooksConfig, load_config
from tests.readme import blocks

_COMMENTED = re.compile(r"^# ?([a-z_]+ = .*)$", re.MULTILINE)
_MINIMAL = '[server]\ndata_dir = "var"\n\n'


def _toml(title: str) -> str:
    """The section's first TOML block (a section's own comes before its subsections')."""
    return next(b for b in blocks(title) if b.lang == "toml").text


def _load(folder: Path, text: str) -> Config:
    """``text`` as ``folder/bridge.toml``, with the private files it names made."""
    for name in ("work.token", "aurinko.secret", "aurinko.signing", "users.htpasswd"):
        path = folder / name
        path.write_text("secret-value\n")
        path.chmod(0o600)
    config = folder / "bridge.toml"
    config.write_text(text, encoding="utf-8")
    config.chmod(0o600)
    return load_config(config)


def _uncommented(text: str) -> str:
    """The block with its commented-out ``key = value`` lines made real (the last of a
    key's alternatives wins where two are offered, e.g. token_file or token_env)."""
    return _COMMENTED.sub(r"\1", text)


def test_the_configuration_block_means_what_its_comments_say(tmp_path: Path) -> None:
    config = _load(tmp_path, _toml("Configuration"))
    assert (config.host, config.port, config.max_connections) == ("127.0.0.1", 5232, 200)
    assert config.htpasswd == tmp_path / "users.htpasswd"
    assert (config.interval, config.freshness, config.request_wait, config.write_wait) == (
        300,
        30,
        2,
        0,
    )
    assert config.conflict.value == "remote-wins" and config.login_delay == 1
    (account,) = config.accounts
    assert (account.name, account.user, account.vcard_version) == ("work", "alice", "3.0")
    assert account.token_file == tmp_path / "work.token"
    # Every value it shows is the default: the block doubles as the table of defaults.
    defaults = Config(data_dir=config.data_dir)
    for name in ("host", "port", "interval", "freshness", "request_wait", "write_wait"):
        assert getattr(config, name) == getattr(defaults, name), name


@pytest.mark.parametrize(
    ("title", "table", "kind"),
    [
        ("Linking an account", "aurinko", AurinkoApp),
        ("Real time", "webhooks", WebhooksConfig),
        ("WebDAV-Push", "push", PushConfig),
    ],
)
def test_each_section_block_loads_and_its_commented_lines_are_the_defaults(
    tmp_path: Path, title: str, table: str, kind: type
) -> None:
    text = _toml(title)
    written: Any = getattr(_load(tmp_path, _MINIMAL + text), table)
    assert isinstance(written, kind)
    uncommented: Any = getattr(_load(tmp_path, _MINIMAL + _uncommented(text)), table)
    changed = {
        f.name for f in fields(kind) if getattr(written, f.name) != getattr(uncommented, f.name)
    }
    # A commented line shows the default, except where it shows an example to adapt.
    examples = {"allow_hosts"} if table == "push" else set()
    assert changed <= examples, changed
