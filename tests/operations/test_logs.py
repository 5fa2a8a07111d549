"""[logging] format = "json": one object per line, and a write followed by its request id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from bridge.sandbox import SandboxApp
from tests.cli.serving import start_serve, stop_serve
from tests.conftest import TOKEN
from tests.folder.conftest import eventually
from tests.operations.conftest import card, write_config


def _lines(stderr: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    for line in lines:
        assert {"time", "level", "logger", "message", "user", "book", "request_id"} <= set(line)
    return lines


def test_a_put_and_the_patch_it_causes_carry_one_request_id(
    sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path, live_sandbox, metrics=False, extra='[logging]\nformat = "json"\n\n'
    )
    process, url = start_serve(config, verbose=1)
    try:
        with httpx.Client(base_url=url, auth=("alice", "alice-pw"), timeout=30) as client:
            created = client.put("/alice/work/ann.vcf", content=card("ann", "Ann"))
            assert created.status_code == 201
            eventually(lambda: len(sandbox_app.dump(TOKEN)) == 1, what="the create pushed")
            etag = client.get("/alice/work/ann.vcf").headers["etag"]
            updated = client.put(
                "/alice/work/ann.vcf",
                content=card("ann", "Ann Other"),
                headers={"If-Match": etag, "X-Request-Id": "proxy-id-42"},
            )
            assert updated.status_code in (201, 204)
            eventually(
                lambda: sandbox_app.dump(TOKEN)[0]["name"]["displayName"] == "Ann Other",
                what="the update pushed",
            )
    finally:
        err = stop_serve(process)
    lines = _lines(err)  # every line of stderr is one JSON object
    create_id = created.headers["x-request-id"]
    assert updated.headers["x-request-id"] == "proxy-id-42"  # a proxy's id is kept

    def of(rid: str) -> list[dict[str, Any]]:
        return [line for line in lines if rid in (line["request_id"] or "").split(",")]

    put_lines = [line for line in of(create_id) if line["message"].startswith("PUT")]
    post_lines = [
        line for line in of(create_id) if line["message"].startswith("HTTP Request: POST")
    ]
    assert put_lines and post_lines, lines
    patch_lines = [
        line for line in of("proxy-id-42") if line["message"].startswith("HTTP Request: PATCH")
    ]
    assert patch_lines, lines
    assert {line["user"] for line in put_lines + patch_lines} == {"alice"}
    assert all(line["book"] == "work" for line in post_lines + patch_lines)
    assert TOKEN not in err and "alice-pw" not in err


def test_the_default_stays_readable(
    sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, live_sandbox, metrics=False)
    process, url = start_serve(config, verbose=1)
    try:
        with httpx.Client(base_url=url, auth=("alice", "alice-pw"), timeout=30) as client:
            answer = client.put("/alice/work/bo.vcf", content=card("bo"))
    finally:
        err = stop_serve(process)
    rid = answer.headers["x-request-id"]
    assert any(
        line.startswith("INFO ") and line.endswith(f"[request {rid}]") for line in err.splitlines()
    ), err
    assert not err.lstrip().startswith("{")
