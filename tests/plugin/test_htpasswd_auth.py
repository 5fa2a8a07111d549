"""The server's htpasswd backend follows edits of the file at once, login caches and all."""

from __future__ import annotations

from pathlib import Path

from radicale.auth import AuthContext

from bridge import htpasswd
from bridge.config import Config
from radicale_plugin.server import HtpasswdAuth, radicale_configuration

FAST = 4


def backend(path: Path) -> HtpasswdAuth:
    auth = HtpasswdAuth(radicale_configuration(Config(data_dir=path.parent, htpasswd=path), "t"))
    assert auth._cache_logins  # what makes the following worth checking
    return auth


def ok(auth: HtpasswdAuth, user: str, password: str) -> bool:
    return auth.login(user, password, AuthContext())[0] == user


def test_a_bcrypt_user_added_to_a_file_that_had_none_can_log_in(tmp_path: Path) -> None:
    path = tmp_path / "users.htpasswd"
    path.write_text("# nobody yet\n")
    auth = backend(path)  # Radicale's own would fail on the bcrypt line with AttributeError
    assert not ok(auth, "bob", "bob-pw")
    htpasswd.add_user(path, "bob", "bob-pw", rounds=FAST)
    assert ok(auth, "bob", "bob-pw")  # although it failed (and was cached) a moment ago


def test_a_changed_password_and_a_removed_user_take_effect_at_the_next_login(
    tmp_path: Path,
) -> None:
    path = tmp_path / "users.htpasswd"
    htpasswd.add_user(path, "alice", "old-pw", rounds=FAST)
    htpasswd.add_user(path, "bob", "bob-pw", rounds=FAST)
    auth = backend(path)
    assert ok(auth, "alice", "old-pw")
    assert ok(auth, "alice", "old-pw")  # from the cache
    assert not ok(auth, "alice", "new-pw")

    htpasswd.change_password(path, "alice", "new-pw", rounds=FAST)
    assert not ok(auth, "alice", "old-pw")
    assert ok(auth, "alice", "new-pw")
    assert ok(auth, "bob", "bob-pw")

    htpasswd.remove_user(path, "alice")
    assert not ok(auth, "alice", "new-pw")
    assert ok(auth, "bob", "bob-pw")


def test_an_unchanged_file_keeps_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "users.htpasswd"
    htpasswd.add_user(path, "alice", "pw", rounds=FAST)
    auth = backend(path)
    assert ok(auth, "alice", "pw")
    assert "alice" in auth._cache_successful
    assert htpasswd.ensure_password(path, "alice", "pw") is False  # what serve does
    assert auth.login("alice", "pw", AuthContext())[1].endswith("cached")
