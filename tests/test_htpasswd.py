"""The CardDAV users' htpasswd file (bridge.htpasswd): bcrypt, private, atomic, locked."""

from __future__ import annotations

import io
import multiprocessing
import multiprocessing.synchronize
import os
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import bcrypt
import pytest

from bridge import htpasswd
from bridge.commands.user import read_password
from bridge.htpasswd import UserError

FAST = 4  # bcrypt's lowest cost


@pytest.fixture
def umask_0() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def verifies(path: Path, user: str, password: str) -> bool:
    for line in path.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
        if line.startswith(f"{user}:"):
            return bcrypt.checkpw(password.encode(), line.split(":", 1)[1].encode())
    return False


def test_a_new_file_and_its_lock_are_private_even_with_umask_0(
    umask_0: None, tmp_path: Path
) -> None:
    path = tmp_path / "users.htpasswd"
    htpasswd.set_password(path, "alice", "alice-pw", rounds=FAST)
    assert mode(path) == 0o600
    assert mode(tmp_path / "users.htpasswd.lock") == 0o600
    assert path.read_text().startswith("alice:$2b$04$")
    assert verifies(path, "alice", "alice-pw")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.htpasswd", "users.htpasswd.lock"]


def test_a_readable_file_becomes_private_when_written(umask_0: None, tmp_path: Path) -> None:
    path = tmp_path / "users.htpasswd"
    path.write_text("# users\n")
    path.chmod(0o644)
    htpasswd.add_user(path, "alice", "alice-pw", rounds=FAST)
    assert mode(path) == 0o600


def test_other_lines_comments_and_blanks_are_kept_as_they_were(tmp_path: Path) -> None:
    path = tmp_path / "users.htpasswd"
    before = (
        b"# CardDAV users\n"
        b"\n"
        b"carol:$6$rounds=1000$salt$hash\r\n"  # another tool's line, ending and all
        b"bob:old-hash\n"
        b"   # indented comment with bytes \xff\xfe\n"
        b"dave:$apr1$abc$def\n"
        b"bob:a-duplicate\n"
        b"erin:last-line-without-newline"
    )
    path.write_bytes(before)
    htpasswd.change_password(path, "bob", "new-pw", rounds=FAST)
    lines = path.read_bytes().split(b"\n")
    assert lines[:3] == [b"# CardDAV users", b"", b"carol:$6$rounds=1000$salt$hash\r"]
    assert lines[3].startswith(b"bob:$2b$04$")  # in place; its duplicate dropped
    assert lines[4:] == [
        b"   # indented comment with bytes \xff\xfe",
        b"dave:$apr1$abc$def",
        b"erin:last-line-without-newline",
    ]
    assert verifies(path, "bob", "new-pw")

    htpasswd.add_user(path, "frank", "frank-pw", rounds=FAST)  # after a line ending is added
    assert re.search(
        rb"\nerin:last-line-without-newline\nfrank:\$2b\$04\$[^\n]{53}\n\Z", path.read_bytes()
    )
    assert htpasswd.users(path) == ["carol", "bob", "dave", "erin", "frank"]

    assert htpasswd.remove_user(path, "bob") is True
    assert htpasswd.remove_user(path, "bob") is False
    assert htpasswd.users(path) == ["carol", "dave", "erin", "frank"]
    after = path.read_bytes()
    assert after.startswith(b"# CardDAV users\n\ncarol:$6$rounds=1000$salt$hash\r\n   # indented")
    assert b"\xff\xfe\ndave:$apr1$abc$def\nerin:last-line-without-newline\nfrank:$2b$" in after


def test_removing_the_last_user_keeps_the_comments(tmp_path: Path) -> None:
    path = tmp_path / "users.htpasswd"
    path.write_text("# only comments stay\n")
    htpasswd.add_user(path, "alice", "pw", rounds=FAST)
    assert htpasswd.remove_user(path, "alice")
    assert path.read_text() == "# only comments stay\n"
    assert htpasswd.users(path) == []


def test_add_refuses_a_user_who_is_there_and_passwd_one_who_is_not(tmp_path: Path) -> None:
    path = tmp_path / "users.htpasswd"
    htpasswd.add_user(path, "alice", "alice-pw", rounds=FAST)
    with pytest.raises(UserError, match="user alice already exists"):
        htpasswd.add_user(path, "alice", "other", rounds=FAST)
    with pytest.raises(UserError, match="user alice already exists"):
        htpasswd.add_user(path, "Alice", "other", rounds=FAST)  # one folder, case aside
    with pytest.raises(UserError, match="no user bob"):
        htpasswd.change_password(path, "bob", "bob-pw", rounds=FAST)
    assert htpasswd.users(path) == ["alice"]
    assert verifies(path, "alice", "alice-pw")


def test_a_missing_file_has_no_users(tmp_path: Path) -> None:
    assert htpasswd.users(tmp_path / "none") == []
    assert htpasswd.remove_user(tmp_path / "none", "alice") is False
    assert htpasswd.remove_user(tmp_path / "no" / "folder", "alice") is False
    with pytest.raises(UserError, match="folder does not exist"):
        htpasswd.add_user(tmp_path / "no" / "folder", "alice", "pw", rounds=FAST)
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize(
    "name",
    ["", "-bob", ".bob", "b/ob", "b:ob", "b ob", "bob\n", "x" * 65, "bö", "#bob", "bob\x00"],
)
def test_bad_user_names_are_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / "users.htpasswd"
    with pytest.raises(UserError, match="invalid user name"):
        htpasswd.set_password(path, name, "pw", rounds=FAST)
    assert not path.exists()


def test_good_user_names(tmp_path: Path) -> None:
    path = tmp_path / "users.htpasswd"
    for name in ("a", "Bob.Smith_2-x", "9" * 64):
        htpasswd.add_user(path, name, "pw", rounds=FAST)
    assert htpasswd.users(path) == ["a", "Bob.Smith_2-x", "9" * 64]


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("", "empty"),
        ("a" * 73, "73 bytes long"),
        ("é" * 37, "74 bytes long"),  # 37 characters, 2 bytes each
        ("two\nlines", "line break"),
        ("cr\r", "line break"),
        ("nul\x00", "NUL"),
    ],
)
def test_bad_passwords_are_refused(tmp_path: Path, password: str, message: str) -> None:
    path = tmp_path / "users.htpasswd"
    with pytest.raises(UserError, match=message):
        htpasswd.set_password(path, "alice", password, rounds=FAST)
    assert not path.exists()


def test_a_72_byte_password_and_any_other_text_are_taken(tmp_path: Path) -> None:
    path = tmp_path / "users.htpasswd"
    htpasswd.set_password(path, "alice", "a" * 72, rounds=FAST)
    htpasswd.set_password(path, "bob", "pässwörd: with spaces, tabs\tand colons", rounds=FAST)
    assert verifies(path, "alice", "a" * 72)
    assert verifies(path, "bob", "pässwörd: with spaces, tabs\tand colons")


def test_ensure_password_leaves_a_matching_hash_alone(tmp_path: Path) -> None:
    path = tmp_path / "users.htpasswd"
    path.write_text("demo:$6$rounds=1000$saltsaltsaltsalt$sha512-from-an-older-version\n")
    assert htpasswd.ensure_password(path, "demo", "secret", rounds=FAST) is True  # not bcrypt
    before = path.stat()
    assert htpasswd.ensure_password(path, "demo", "secret", rounds=FAST) is False
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert htpasswd.ensure_password(path, "demo", "changed", rounds=FAST) is True
    assert verifies(path, "demo", "changed")
    assert htpasswd.users(path) == ["demo"]


def _add_users(path: str, start: multiprocessing.synchronize.Barrier, worker: int) -> None:
    start.wait()
    for i in range(3):
        htpasswd.add_user(Path(path), f"w{worker}-u{i}", f"pw-{worker}-{i}", rounds=FAST)


def test_concurrent_adds_from_several_processes_all_land(tmp_path: Path) -> None:
    path = tmp_path / "users.htpasswd"
    context = multiprocessing.get_context("fork")
    workers = 6
    start = context.Barrier(workers)
    processes = [
        context.Process(target=_add_users, args=(str(path), start, w)) for w in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    expected = {f"w{w}-u{i}" for w in range(workers) for i in range(3)}
    assert set(htpasswd.users(path)) == expected
    assert len(path.read_text().splitlines()) == len(expected)
    assert verifies(path, "w5-u2", "pw-5-2")
    assert mode(path) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_password_is_asked_twice_on_a_terminal() -> None:
    asked: list[str] = []

    def prompt(answers: list[str]) -> Callable[[str], str]:
        def ask(text: str) -> str:
            asked.append(text)
            return answers.pop(0)

        return ask

    assert read_password(_Terminal(), prompt(["s3cret", "s3cret"])) == "s3cret"
    assert asked == ["New password: ", "Again: "]
    with pytest.raises(UserError, match="do not match"):
        read_password(_Terminal(), prompt(["s3cret", "s3cre"]))
    with pytest.raises(UserError, match="empty"):
        read_password(_Terminal(), prompt(["", ""]))


@pytest.mark.parametrize(
    ("text", "password"),
    [("pw\n", "pw"), ("pw", "pw"), ("pw\r\n", "pw"), (" pw \n second line\n", " pw ")],
)
def test_without_a_terminal_the_password_is_the_first_line(text: str, password: str) -> None:
    assert read_password(io.StringIO(text)) == password


def test_without_a_terminal_an_empty_input_is_refused() -> None:
    with pytest.raises(UserError, match="empty"):
        read_password(io.StringIO(""))
