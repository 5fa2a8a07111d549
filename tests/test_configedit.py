"""Editing the configuration file in place: one table added or removed, nothing else moved."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bridge.config import ConfigError, load_config
from bridge.configedit import _tables, add_account, add_account_text, remove_account

LAYOUT = """\
# Bridge configuration -- hand-written, keep my notes!

[server]
data_dir = "var"        # where the store lives
htpasswd = "users.htpasswd"

# a commented-out key:
# port = 5233

[sync]
interval = 600

# Work first.
[[accounts]]
name = "work"     # the /alice/work/ book
user = "alice"
# token_env = "NOT_THIS"
token_file = "work.token"
display_name = \"\"\"Work [[accounts]]
contacts\"\"\"

# The Aurinko application (a comment above the next table).
[aurinko]
client_id = "app"

[[ "accounts" ]]   # quoted key, after another table
name = 'home'
user = "alice"
token_env = "HOME_TOKEN"

# trailing words
"""

NEW = {
    "name": "new",
    "user": "bob",
    "base_url": "https://api.aurinko.io/v1",
    "token_file": "tokens/bob.new.token",
    "display_name": 'Bob\'s "new" book \\ é',
}


def _config(tmp_path: Path, text: str = LAYOUT, mode: int = 0o600) -> Path:
    path = tmp_path / "bridge.toml"
    path.write_bytes(text.encode("utf-8"))
    path.chmod(mode)
    return path


def _accounts(path: Path) -> list[tuple[str, str]]:
    return [(a.user, a.name) for a in load_config(path).accounts]


def _block(entry: dict[str, str]) -> str:
    lines = ["[[accounts]]"]
    for key, value in entry.items():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'{key} = "{escaped}"')
    return "\n".join(lines) + "\n"


def test_add_inserts_one_table_after_the_last_account_and_keeps_every_byte(
    tmp_path: Path,
) -> None:
    path = _config(tmp_path)
    add_account(path, NEW)
    after = path.read_text(encoding="utf-8")
    block = "\n" + _block(NEW)
    assert block in after
    assert after.replace(block, "", 1) == LAYOUT
    # After the last [[accounts]] table's keys, before the words that follow it.
    assert after.index(block) == LAYOUT.index('token_env = "HOME_TOKEN"\n') + len(
        'token_env = "HOME_TOKEN"\n'
    )
    assert _accounts(path) == [("alice", "work"), ("alice", "home"), ("bob", "new")]
    assert load_config(path).accounts[2].display_name == NEW["display_name"]


def test_remove_takes_only_the_table_comments_around_it_stay(tmp_path: Path) -> None:
    path = _config(tmp_path)
    remove_account(path, "alice", "work")
    text = path.read_text(encoding="utf-8")
    start = LAYOUT.index("[[accounts]]\nname")
    end = LAYOUT.index('contacts"""\n') + len('contacts"""\n')
    assert text == LAYOUT[:start] + LAYOUT[end:]
    assert "# Work first." in text and "# The Aurinko application" in text
    assert _accounts(path) == [("alice", "home")]


@pytest.mark.parametrize(
    "text",
    [
        LAYOUT,
        LAYOUT.replace("\n", "\r\n"),
        '[server]\ndata_dir = "var"',  # no account, no final newline
        "",
        "[[accounts]]\nname = 'w'\nuser = 'a'\ntoken_env = 'T'",  # no final newline
        '[server]\nhost = "[::1]"\n',
    ],
    ids=["layout", "crlf", "no-accounts", "empty", "no-final-newline", "brackets-in-string"],
)
def test_add_then_remove_gives_back_the_same_bytes(tmp_path: Path, text: str) -> None:
    path = _config(tmp_path, text)
    add_account(path, NEW)
    assert ("bob", "new") in _accounts(path)
    remove_account(path, "bob", "new")
    # A missing final newline is the one thing an edit adds for good.
    expected = text if not text or text.endswith("\n") else text + "\n"
    assert path.read_bytes() == expected.encode("utf-8")


def test_lines_starting_with_brackets_inside_values_are_not_tables(tmp_path: Path) -> None:
    text = (
        '[server]\ndata_dir = "var"\n\n[[accounts]]\nname = "a"\nuser = "u"\n'
        'token_env = "T"\ndisplay_name = """\n[[accounts]]\n"""\n'
    )
    new = add_account_text(text, NEW, tmp_path / "c.toml")
    assert new.startswith(text)
    assert [a["name"] for a in tomllib.loads(new)["accounts"]] == ["a", "new"]


HEADERS = r"""a = [
[1, 2],
['[x]'],
]
b = { c = [
1] }
s = '''
[not]
'''
t = "\"[no]"
  [real]   # comment
k = 1

# after
[[ list ]]
"""


def test_headers_are_found_outside_strings_arrays_and_inline_tables() -> None:
    found = [(HEADERS[t.start : t.body_end], t.data) for t in _tables(HEADERS)]
    assert found == [
        ("  [real]   # comment\nk = 1\n", {"real": {}}),
        ("[[ list ]]\n", {"list": [{}]}),
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({**NEW, "user": "ALICE", "name": "Work"}, "name the same address book"),
        ({**NEW, "name": "no/slash"}, "letters, digits"),
        ({**NEW, "token_env": "X"}, "exactly one of token_file and token_env"),
    ],
    ids=["same-book", "bad-name", "two-token-sources"],
)
def test_an_edit_that_would_break_the_configuration_is_refused(
    tmp_path: Path, entry: dict[str, str], message: str
) -> None:
    path = _config(tmp_path)
    before = os.stat(path)
    with pytest.raises(ConfigError, match=message):
        add_account(path, entry)
    assert path.read_text(encoding="utf-8") == LAYOUT
    assert os.stat(path).st_ino == before.st_ino  # not even rewritten
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_removing_an_unknown_account_is_refused(tmp_path: Path) -> None:
    path = _config(tmp_path)
    with pytest.raises(ConfigError, match="no \\[\\[accounts\\]\\] table"):
        remove_account(path, "alice", "nope")
    assert path.read_text(encoding="utf-8") == LAYOUT


def test_a_file_that_is_not_toml_is_refused_unchanged(tmp_path: Path) -> None:
    path = _config(tmp_path, "not [toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        add_account(path, NEW)
    assert path.read_text(encoding="utf-8") == "not [toml"


def test_an_inline_accounts_array_is_not_edited(tmp_path: Path) -> None:
    text = 'accounts = [{name = "a", user = "u", token_env = "T"}]\n'
    path = _config(tmp_path, text)
    with pytest.raises(ConfigError, match="edit it by hand"):
        add_account(path, NEW)
    assert path.read_text(encoding="utf-8") == text


@pytest.mark.parametrize(("mode", "expected"), [(0o600, 0o600), (0o644, 0o644), (0o664, 0o644)])
def test_the_mode_is_kept_never_group_or_world_writable(
    tmp_path: Path, mode: int, expected: int
) -> None:
    path = _config(tmp_path, mode=mode)
    add_account(path, NEW)
    assert stat.S_IMODE(path.stat().st_mode) == expected
    lock = tmp_path / "bridge.toml.lock"
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600


def test_a_symlinked_configuration_stays_a_link(tmp_path: Path) -> None:
    real = _config(tmp_path)
    link = tmp_path / "link.toml"
    link.symlink_to(real.name)
    add_account(link, NEW)
    assert link.is_symlink()
    assert ("bob", "new") in _accounts(real)


ADDER = """
import sys
from pathlib import Path
from bridge.configedit import add_account
path, who = Path(sys.argv[1]), sys.argv[2]
for i in range(5):
    add_account(path, {"name": f"b{i}", "user": who, "token_env": f"T_{who}_{i}"})
"""


def test_concurrent_adders_all_land(tmp_path: Path) -> None:
    path = _config(tmp_path)
    users = [f"user{n}" for n in range(6)]
    processes = [
        subprocess.Popen([sys.executable, "-c", ADDER, str(path), user], cwd=Path.cwd())
        for user in users
    ]
    assert [p.wait(timeout=120) for p in processes] == [0] * len(users)
    found = set(_accounts(path))
    assert {(u, f"b{i}") for u in users for i in range(5)} <= found
    assert len(found) == 2 + 5 * len(users)
    assert path.read_text(encoding="utf-8").startswith(LAYOUT[: LAYOUT.index("[aurinko]")])
