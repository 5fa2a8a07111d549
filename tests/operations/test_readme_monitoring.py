"""The README's "Monitoring" and "Logs" sections, against a real serve."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bridge.config import parse_config
from bridge.sandbox import SandboxApp
from tests.cli.serving import start_serve, stop_serve
from tests.operations.conftest import write_config
from tests.readme import blocks, commands, section

_METRIC = re.compile(r"\bbridge_[a-z_]+\b")


def _names(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
    return names


def test_every_metric_the_section_names_is_served_and_its_curl_works(
    sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path
) -> None:
    make_token, scrape = commands(next(b for b in blocks("Monitoring") if b.lang == "sh"))
    subprocess.run(["bash", "-c", make_token], cwd=tmp_path, check=True)
    assert (tmp_path / "metrics.token").stat().st_mode & 0o777 == 0o600
    token = (tmp_path / "metrics.token").read_text()
    config = write_config(tmp_path, live_sandbox)  # writes a token file of its own...
    (tmp_path / "metrics.token").write_text(token)  # ...replaced by the README's
    (tmp_path / "metrics.token").chmod(0o600)
    process, url = start_serve(config)
    try:
        port = url.rsplit(":", 1)[1].rstrip("/")
        done = subprocess.run(
            ["bash", "-c", scrape.replace("5232", port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        stop_serve(process)
    served = _names(done.stdout)
    named = set(_METRIC.findall(section("Monitoring")))
    assert len(named) >= 15
    sqlite_only = named - {"bridge_books_owned"}  # served on PostgreSQL stores alone
    assert sqlite_only <= served, sqlite_only - served


def test_the_sections_configuration_blocks_are_read_as_documented(tmp_path: Path) -> None:
    metrics = next(b for b in blocks("Monitoring") if b.lang == "toml")
    logging = next(b for b in blocks("Logs") if b.lang == "toml")
    config = parse_config(tomllib.loads(metrics.text + "\n" + logging.text), tmp_path)
    assert config.metrics is not None
    assert config.metrics.token_file == tmp_path / "metrics.token"
    assert config.log_format == "json"


def test_the_load_balancer_examples_check_health() -> None:
    text = section("Several instances on PostgreSQL")
    assert "option httpchk GET /.bridge/health" in text
    assert "health_check uri=/.bridge/health" in text
