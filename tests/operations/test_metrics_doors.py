"""The metrics of the doors: Aurinko's webhook requests counted as accepted or refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.sandbox import SandboxApp
from tests.cli.test_webhooks import SECRET, _config, _post, _serving, _subscribed
from tests.operations.conftest import METRICS_TOKEN
from tests.operations.test_metrics import samples, value
from tests.ports import reserved_port


@pytest.mark.sandbox(signing_secret=SECRET)
def test_webhook_requests_are_counted_accepted_or_refused(
    tmp_path: Path, sandbox_app: SandboxApp, live_sandbox: str
) -> None:
    config = _config(tmp_path, live_sandbox, reserved_port())
    (tmp_path / "metrics.token").write_text(METRICS_TOKEN + "\n")
    (tmp_path / "metrics.token").chmod(0o600)
    with config.open("a", encoding="utf-8") as out:
        out.write('\n[metrics]\ntoken_file = "metrics.token"\n')
    with _serving(config) as url:
        hook = _subscribed(sandbox_app)["notificationUrl"]
        before = samples(url)
        body = b'{"subscription":1,"resource":"/contacts","payloads":[]}'
        assert _post(hook, body).status_code == 200
        assert _post(hook, body, signed=False).status_code in (401, 403)
        assert _post(hook, body, signed=False).status_code in (401, 403)
        after = samples(url)

    def grew(result: str) -> float:
        name = "bridge_webhook_notifications_total"
        return value(after, name, result=result) - value(before, name, result=result)

    assert (grew("accepted"), grew("refused")) == (1, 2)
    carddav = "bridge_carddav_requests_total"
    assert not any(name == carddav for name, _ in after)  # a webhook is not a CardDAV request
