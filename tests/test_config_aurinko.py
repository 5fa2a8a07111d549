"""The ``[aurinko]`` section: the Aurinko application that ``account add`` links through."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import AurinkoApp, ConfigError, load_config, parse_config


def _load(tmp_path: Path, text: str) -> AurinkoApp | None:
    path = tmp_path / "bridge.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return load_config(path).aurinko


def test_absent_section_is_none(tmp_path: Path) -> None:
    assert _load(tmp_path, '[server]\ndata_dir = "var"\n') is None


def test_defaults_and_paths_relative_to_the_file(tmp_path: Path) -> None:
    app = _load(tmp_path, '[aurinko]\nclient_id = "app-1"\nclient_secret_file = "app.secret"\n')
    assert app == AurinkoApp(
        client_id="app-1",
        client_secret_file=tmp_path / "app.secret",
        base_url="https://api.aurinko.io/v1",
        callback_port=8765,  # fixed, so the return URL can be registered in the portal
    )


def test_the_secret_is_read_only_when_asked_and_must_be_private(tmp_path: Path) -> None:
    # A missing secret file does not stop the configuration from loading (serve never
    # needs it); reading it says what is wrong.
    app = _load(tmp_path, '[aurinko]\nclient_id = "a"\nclient_secret_file = "s/app.secret"\n')
    assert app is not None
    with pytest.raises(ConfigError, match="client_secret_file"):
        app.read_secret()
    secret = tmp_path / "s" / "app.secret"
    secret.parent.mkdir()
    secret.write_text("  sekrit \n")
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        app.read_secret()
    secret.chmod(0o600)
    assert app.read_secret() == "sekrit"
    secret.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        app.read_secret()
    with pytest.raises(ConfigError, match="client_secret_file is not set"):
        AurinkoApp(client_id="a").read_secret()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"client_secret": "inline"}, "unknown key"),
        ({"callback_port": 70000}, "callback_port must be 0-65535"),
        ({"callback_port": "8080"}, "wrong type"),
        ({"callback_port": True}, "wrong type"),
        ({"client_id": 5}, "wrong type"),
        ({"client_id": " "}, "client_id is empty"),
        ({"base_url": "ftp://x"}, "http"),
    ],
)
def test_bad_values_are_refused(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"aurinko": table}, Path("/etc/bridge"))


def test_a_pinned_port_and_a_sandbox_url(tmp_path: Path) -> None:
    config = parse_config(
        {"aurinko": {"base_url": "http://127.0.0.1:9/v1", "callback_port": 8765}}, tmp_path
    )
    assert config.aurinko == AurinkoApp(base_url="http://127.0.0.1:9/v1", callback_port=8765)
