"""README, "Connecting clients": the curl check of a server, run as written against the
demo (its password and port aside) (issue 23, point 7)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

from bridge.paths import DEMO_CONTACTS
from tests.cli.serving import BRIDGE
from tests.readme import blocks, commands


def test_the_curl_check_answers_207_and_lists_the_book(tmp_path: Path) -> None:
    [block] = blocks("Connecting clients")
    status_line, listing_line = commands(block)
    process = subprocess.Popen(
        [*BRIDGE, "serve", "--demo-dir", str(tmp_path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        assert process.stdout is not None
        banner = "".join(process.stdout.readline() for _ in range(4))
        server = re.search(r"CardDAV server at (http://127\.0\.0\.1:\d+/)", banner)
        password = re.search(r"user: demo\s+password: (\S+)", banner)
        assert server and password, banner

        def curl(line: str) -> str:
            line = line.replace("PASSWORD", password.group(1))
            line = line.replace("http://127.0.0.1:5232/", server.group(1))
            done = subprocess.run(
                ["bash", "-c", line], capture_output=True, text=True, timeout=60, check=False
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        assert curl(status_line) == "207\n"
        listing = curl(listing_line)
        demo = json.loads(DEMO_CONTACTS.read_text(encoding="utf-8"))
        count = len(demo["contacts"] if isinstance(demo, dict) else demo)
        assert "multistatus" in listing and listing.count(".vcf</") == count
        assert curl(status_line.replace("PASSWORD", "wrong")) == "401\n"
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
