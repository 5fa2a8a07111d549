"""The ``[store]`` section: the store in PostgreSQL; its URL never holds the password or
another of libpq's secrets, and one that cannot be read is a one-line error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.config import ConfigError, StoreConfig, load_config


def _load(tmp_path: Path, text: str) -> StoreConfig | None:
    path = tmp_path / "bridge.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return load_config(path).store


def test_absent_section_keeps_sqlite(tmp_path: Path) -> None:
    assert _load(tmp_path, '[server]\ndata_dir = "var"\n') is None


def test_url_and_a_password_file_relative_to_the_file(tmp_path: Path) -> None:
    store = _load(
        tmp_path,
        '[store]\nurl = "postgresql://bridge@db.example:5433/contacts"\n'
        'password_file = "secrets/db.password"\n',
    )
    assert store == StoreConfig(
        url="postgresql://bridge@db.example:5433/contacts",
        password_file=tmp_path / "secrets" / "db.password",
    )


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://bridge:hunter2@db/contacts",
        "postgres://bridge:@db/contacts",
        "postgresql://bridge@db/contacts?sslmode=require&password=hunter2",
    ],
)
def test_a_password_in_the_url_is_refused_without_being_repeated(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="must not contain a password") as caught:
        _load(tmp_path, f'[store]\nurl = "{url}"\n')
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("sslmode=verify-full&sslkey=/etc/bridge/client.key&sslpassword=hunter2", "sslpassword"),
        ("sslpassword=", "sslpassword"),  # even empty: it has no place there
        ("sslpass%77ord=hunter2", "sslpassword"),  # libpq decodes the name too
        ("oauth_client_secret=hunter2", "oauth_client_secret"),
        ("scram_client_key=aHVudGVyMg%3D%3D", "scram_client_key"),
        ("scram_server_key=aHVudGVyMg%3D%3D", "scram_server_key"),
    ],
)
def test_libpqs_other_secrets_are_refused_without_being_repeated(
    tmp_path: Path, query: str, key: str
) -> None:
    """Issue 21: `sslpassword` (the client key's passphrase) and libpq's other secret
    parameters were printed with the URL in the "cannot connect" message."""
    with pytest.raises(ConfigError, match=f"must not contain {key}: it is a secret") as caught:
        _load(tmp_path, f'[store]\nurl = "postgresql://bridge@db/contacts?{query}"\n')
    assert "hunter2" not in str(caught.value) and "aHVudGVy" not in str(caught.value)
    assert "db/contacts" not in str(caught.value)


def test_paths_and_settings_of_tls_are_not_secrets(tmp_path: Path) -> None:
    url = (
        "postgresql://bridge@db:5432,db2:5433/contacts?sslmode=verify-full"
        "&sslcert=/etc/bridge/client.crt&sslkey=/etc/bridge/client.key"
        "&sslrootcert=/etc/bridge/ca.crt&passfile=/etc/bridge/pgpass"
    )
    store = _load(tmp_path, f'[store]\nurl = "{url}"\n')
    assert store is not None and store.url == url


@pytest.mark.parametrize(
    "url", ["postgresql://[::1", "postgresql://[::1/x?sslpassword=hunter2", "postgres://[db]x/"]
)
def test_a_url_that_cannot_be_read_is_one_line(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match=r"\[store\] url is not a valid URL") as caught:
        _load(tmp_path, f'[store]\nurl = "{url}"\n')
    assert "\n" not in str(caught.value) and "hunter2" not in str(caught.value)
    assert url not in str(caught.value)


@pytest.mark.parametrize(
    "command",
    [["serve"], ["status"], ["sync"], ["account", "list"], ["user", "list"]],
    ids=lambda words: "-".join(words),
)
def test_every_command_says_a_bad_store_url_in_one_line(tmp_path: Path, command: list[str]) -> None:
    """Issue 21: `postgresql://[::1` ended `status`, `sync` and the rest in a traceback."""
    config = tmp_path / "bridge.toml"
    config.write_text(
        '[server]\ndata_dir = "var"\nhtpasswd = "users.htpasswd"\n\n'
        '[store]\nurl = "postgresql://[::1/bridge?sslpassword=hunter2"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    done = subprocess.run(
        [sys.executable, "-m", "bridge", *command, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "[store] url is not a valid URL" in lines[0]
    assert "hunter2" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[store]\npassword_env = "PW"\n', "url is required"),
        ('[store]\nurl = "mysql://db/x"\n', "postgresql:// URL"),
        ('[store]\nurl = "host=db dbname=x"\n', "postgresql:// URL"),
        ("[store]\nurl = 5\n", "wrong type"),
        ('[store]\nurl = "postgresql://db/x"\nuser = "me"\n', "unknown key"),
        (
            '[store]\nurl = "postgresql://db/x"\npassword_file = "f"\npassword_env = "PW"\n',
            "at most one",
        ),
        ('[store]\nurl = "postgresql://db/x"\npassword_env = ""\n', "password_env is empty"),
    ],
)
def test_mistakes_name_the_section(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, text)


def test_the_password_file_must_be_private_and_not_empty(tmp_path: Path) -> None:
    store = _load(tmp_path, '[store]\nurl = "postgresql://db/x"\npassword_file = "pw"\n')
    assert store is not None
    with pytest.raises(ConfigError, match="password_file"):
        store.read_password()  # missing
    secret = tmp_path / "pw"
    secret.write_text("s3cret pass \n")
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match="accessible by other users"):
        store.read_password()
    secret.chmod(0o600)
    assert store.read_password() == "s3cret pass "  # only the line end is not part of it
    secret.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        store.read_password()


def test_a_password_from_the_environment_or_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _load(tmp_path, '[store]\nurl = "postgresql://db/x"\npassword_env = "BRIDGE_DB_PW"\n')
    assert store is not None
    monkeypatch.delenv("BRIDGE_DB_PW", raising=False)
    with pytest.raises(ConfigError, match="BRIDGE_DB_PW is empty"):
        store.read_password()
    monkeypatch.setenv("BRIDGE_DB_PW", "from-env")
    assert store.read_password() == "from-env"
    # Neither: libpq's own sources (~/.pgpass, PGPASSWORD) or a method needing none.
    bare = _load(tmp_path, '[store]\nurl = "postgresql://db/x"\n')
    assert bare is not None and bare.read_password() is None
