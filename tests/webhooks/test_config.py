"""The ``[webhooks]`` section: where Aurinko reaches ``serve``, and its signing secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import ConfigError, WebhooksConfig, load_config


def _load(tmp_path: Path, text: str) -> WebhooksConfig | None:
    path = tmp_path / "bridge.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return load_config(path).webhooks


def test_absent_section_changes_nothing(tmp_path: Path) -> None:
    assert _load(tmp_path, '[server]\ndata_dir = "var"\n') is None


def test_keys_and_defaults(tmp_path: Path) -> None:
    hooks = _load(
        tmp_path,
        '[webhooks]\npublic_url = "https://bridge.example.org/"\n'
        'signing_secret_file = "secrets/aurinko.signing"\n',
    )
    assert hooks == WebhooksConfig(
        public_url="https://bridge.example.org",
        signing_secret_file=tmp_path / "secrets" / "aurinko.signing",
        max_skew=300.0,
        check_interval=600.0,
    )
    hooks = _load(
        tmp_path,
        '[webhooks]\npublic_url = "http://127.0.0.1:8080/carddav"\n'
        'signing_secret_file = "s"\nmax_skew = 60\ncheck_interval = 30.5\n',
    )
    assert hooks is not None
    assert (hooks.public_url, hooks.max_skew, hooks.check_interval) == (
        "http://127.0.0.1:8080/carddav",
        60.0,
        30.5,
    )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('signing_secret_file = "s"\n', "public_url is required"),
        ('public_url = "https://x.example"\n', "signing_secret_file is required"),
        ('public_url = "http://bridge.example.org"\nsigning_secret_file = "s"\n', "https://"),
        ('public_url = "ftp://bridge.example.org"\nsigning_secret_file = "s"\n', "https://"),
        ('public_url = "bridge.example.org"\nsigning_secret_file = "s"\n', "https://"),
        ('public_url = "https://x.example:99999"\nsigning_secret_file = "s"\n', "not a URL"),
        ('public_url = "https://x.example/?a=1"\nsigning_secret_file = "s"\n', "query"),
        ('public_url = "https://u:p@x.example"\nsigning_secret_file = "s"\n', "credentials"),
        ('public_url = "https://x.example"\nsigning_secret_file = " "\n', "signing_secret_file"),
        ('public_url = "https://x"\nsigning_secret_file = "s"\nmax_skew = 0\n', "max_skew"),
        ('public_url = "https://x"\nsigning_secret_file = "s"\ncheck_interval = -1\n', "check"),
        ('public_url = "https://x"\nsigning_secret_file = "s"\nsecret = "no"\n', "unknown"),
        ('public_url = 5\nsigning_secret_file = "s"\n', "wrong type"),
    ],
)
def test_refused(tmp_path: Path, body: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        _load(tmp_path, "[webhooks]\n" + body)


def test_the_secret_file_must_be_private_and_not_empty(tmp_path: Path) -> None:
    hooks = _load(
        tmp_path, '[webhooks]\npublic_url = "https://x.example"\nsigning_secret_file = "s"\n'
    )
    assert hooks is not None
    with pytest.raises(ConfigError, match="signing_secret_file"):
        hooks.read_secret()  # missing
    secret = tmp_path / "s"
    secret.write_text("whsec-123\n")
    secret.chmod(0o640)
    with pytest.raises(ConfigError, match="chmod 600"):
        hooks.read_secret()
    secret.chmod(0o600)
    assert hooks.read_secret() == "whsec-123"
    secret.write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        hooks.read_secret()
