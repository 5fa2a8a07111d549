"""Configuration mistakes name their fix: the type a key expects, and the closest known
name for a misspelled section or key (issue 23, point 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bridge.config import ConfigError, parse_config


def message(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as refused:
        parse_config(data, Path("."))
    return str(refused.value)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"server": {"port": "5232"}},
            "[server]: port has the wrong type: expected a whole number, found a string",
        ),
        (
            {"server": {"port": 5232.0}},
            "[server]: port has the wrong type: expected a whole number, found a decimal number",
        ),
        (
            {"sync": {"interval": "5m"}},
            "[sync]: interval has the wrong type: expected a number, found a string",
        ),
        (
            {"server": {"host": 127}},
            "[server]: host has the wrong type: expected a string in quotes, found a whole number",
        ),
        (
            {"server": {"port": True}},
            "[server]: port has the wrong type: expected a whole number, found true or false",
        ),
        (
            {"server": {"data_dir": ["var"]}},
            "[server]: data_dir has the wrong type: expected a string in quotes, found a list",
        ),
    ],
    ids=["str-for-int", "float-for-int", "str-for-number", "int-for-str", "bool", "list"],
)
def test_a_wrong_type_names_the_expected_one(data: dict[str, Any], expected: str) -> None:
    assert message(data) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"sever": {}}, "unknown section(s): sever (did you mean server?)"),
        ({"acounts": []}, "unknown section(s): acounts (did you mean accounts?)"),
        ({"zzz": {}}, "unknown section(s): zzz"),
        ({"server": {"prot": 1}}, "[server]: unknown key(s): prot (did you mean port?)"),
        (
            {"accounts": [{"name": "w", "user": "a", "token_fle": "t"}]},
            "[[accounts]] #1: unknown key(s): token_fle (did you mean token_file?)",
        ),
    ],
    ids=["section", "accounts", "nothing-close", "key", "account-key"],
)
def test_a_misspelled_name_suggests_the_closest(data: dict[str, Any], expected: str) -> None:
    assert message(data) == expected
