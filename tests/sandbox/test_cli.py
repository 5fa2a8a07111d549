"""``python -m bridge.sandbox`` and the ``add_arguments``/``run`` pair."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bridge.sandbox import ProfileConfig
from bridge.sandbox.cli import add_arguments, build_config, run

REPO = Path(__file__).resolve().parents[2]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def _start(*argv: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge.sandbox", *argv],
        cwd=REPO, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.fullmatch(r"Aurinko sandbox listening on (http://127\.0\.0\.1:\d+/v1)\n", line)
    if match is None:
        process.kill()
        pytest.fail(f"unexpected first line {line!r}; stderr: {process.communicate()[1]}")
    return process, match.group(1)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_module_serves_on_a_free_port_and_stops_cleanly(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps([{"nickName": "seeded"}]), encoding="utf-8")
    process, url = _start(
        "--db", str(tmp_path / "s.db"), "--token", "cli-token", "--seed", str(seed), "--port", "0"
    )
    try:
        headers = {"Authorization": "Bearer cli-token"}
        with httpx.Client(base_url=url, headers=headers, trust_env=False, timeout=10) as client:
            records = client.get("/contacts").json()["records"]
            assert [r["nickName"] for r in records] == ["seeded"]
        process.send_signal(stop_signal)
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert stderr == ""  # no traceback, and no per-request log lines either


def test_fault_options_reach_the_running_sandbox(tmp_path: Path) -> None:
    process, url = _start(
        "--db", str(tmp_path / "s.db"), "--token", "t", "--fault-rate", "1",
        "--fault-statuses", "503", "--retry-after", "4",
    )  # fmt: skip
    try:
        with httpx.Client(
            base_url=url, headers={"Authorization": "Bearer t"}, trust_env=False, timeout=10
        ) as client:
            response = client.get("/contacts")
            assert response.status_code == 503 and response.headers["Retry-After"] == "4"
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert process.returncode == 0


def test_options_build_the_documented_config() -> None:
    args = _parse([
        "--db", "x.db", "--token", "a", "--token", "b", "--page-size", "7", "--token-ttl", "60",
        "--fault-rate", "0.5", "--fault-statuses", "429,503", "--retry-after", "2",
        "--latency", "0.1", "--drop-rate", "0.2", "--drop-after-rate", "0.3",
        "--not-ready", "2", "--fault-seed", "42",
    ])  # fmt: skip
    config = build_config(args)
    assert (args.host, args.port) == ("127.0.0.1", 0)
    assert config.tokens == ["a", "b"] and config.page_size == 7 and config.token_ttl == 60
    faults = config.faults
    assert faults.error_rate == 0.5 and faults.error_statuses == (429, 503)
    assert faults.retry_after == 2 and faults.latency == 0.1
    assert (faults.drop_rate, faults.drop_after_rate) == (0.2, 0.3)
    assert (faults.not_ready_count, faults.seed) == (2, 42)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--seed", "/nonexistent/seed.json"], "cannot read seed file"),
        (["--seed", "BADJSON"], "not valid JSON"),
        (["--fault-rate", "1.5"], "error_rate"),
        (["--drop-rate", "-1"], "drop_rate"),
        (["--fault-statuses", "429,abc"], "--fault-statuses"),
        (["--page-size", "0"], "page_size"),
    ],
)
def test_bad_arguments_print_one_line_and_return_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], needle: str
) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{oops", encoding="utf-8")
    extra = [str(bad_json) if part == "BADJSON" else part for part in extra]
    args = _parse(["--db", str(tmp_path / "s.db"), "--token", "t", *extra])
    assert run(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in captured.err


def test_a_busy_port_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = _parse(["--db", str(tmp_path / "s.db"), "--token", "t", "--port", str(port)])
        assert run(args) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_profile_options_build_the_documented_config() -> None:
    config = build_config(_parse(["--db", "x.db", "--token", "a"]))
    assert config.profile == ProfileConfig() and config.faults.retry_after == 1
    args = _parse([
        "--db", "x.db", "--token", "a", "--profile", "google", "--weak-etags",
        "--write-answer", "id-etag", "--strict-body", "--no-retry-after", "--null-ignored",
        "--empty-unchanged",
    ])  # fmt: skip
    config = build_config(args)
    assert config.profile == ProfileConfig(
        "google",
        weak_etags=True,
        write_answer="id-etag",
        strict_body=True,
        null_ignored=True,
        empty_unchanged=True,
    )
    assert config.faults.retry_after is None


def test_a_profile_given_on_the_command_line_rules_the_running_sandbox(tmp_path: Path) -> None:
    process, url = _start(
        "--db", str(tmp_path / "s.db"), "--token", "t", "--profile", "office365",
        "--weak-etags", "--write-answer", "id-etag",
    )  # fmt: skip
    try:
        with httpx.Client(
            base_url=url, headers={"Authorization": "Bearer t"}, trust_env=False, timeout=10
        ) as client:
            refused = client.post("/contacts", json={"birthday": "--03-17"})
            assert refused.status_code == 400 and refused.json()["message"].startswith("birthday: ")
            created = client.post("/contacts", json={"birthday": "1984-03-17"})
            assert created.status_code == 201 and set(created.json()) == {"id", "etag"}
            assert re.fullmatch(r'W/"[^"]+"', created.json()["etag"])
            root = url.removesuffix("/v1")
            profile = client.get(f"{root}/_sandbox/profile").json()
            assert profile["name"] == "office365" and profile["weak_etags"] is True
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert process.returncode == 0
