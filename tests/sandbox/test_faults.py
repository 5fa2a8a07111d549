"""Fault injection: errors with Retry-After, latency, dropped connections, not-ready starts."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from bridge.sandbox import ConnectionDropped, FaultConfig, SandboxApp
from bridge.sandbox.faults import AWAIT_READY_DELAY
from tests.sandbox.conftest import TOKEN, Api, create, error_of, make_app, open_api


@pytest.fixture
def socket_api(app: SandboxApp) -> Iterator[Api]:
    handle = open_api(app, "socket")
    yield handle
    handle.close()


def _statuses(client: httpx.Client, count: int) -> list[int]:
    return [client.get("/contacts").status_code for _ in range(count)]


def test_faults_are_off_by_default(api: Api) -> None:
    assert api.app.faults == FaultConfig()
    assert set(_statuses(api.client(), 30)) == {200}


@pytest.mark.parametrize(
    ("status", "code", "retry_after"),
    [(429, "tooManyRequests", "2"), (503, "serviceUnavailable", "2"), (500, "internalError", None)],
)
def test_injected_errors_use_the_envelope_and_retry_after(
    api: Api, status: int, code: str, retry_after: str | None
) -> None:
    api.app.set_faults(FaultConfig(error_rate=1.0, error_statuses=(status,), retry_after=2))
    response = api.client().get("/contacts")
    assert response.status_code == status
    assert error_of(response)["code"] == code
    assert response.headers.get("Retry-After") == retry_after


def test_fractional_retry_after_is_kept_and_none_omits_the_header(
    local_client: httpx.Client, app: SandboxApp
) -> None:
    app.set_faults(error_rate=1.0, error_statuses=(429,), retry_after=0.25)
    assert local_client.get("/contacts").headers["Retry-After"] == "0.25"
    app.set_faults(retry_after=None)
    response = local_client.get("/contacts")
    assert response.status_code == 429 and "Retry-After" not in response.headers


def test_injected_errors_come_from_the_configured_set_at_the_configured_rate(
    local_client: httpx.Client, app: SandboxApp
) -> None:
    app.set_faults(FaultConfig(error_rate=0.5, error_statuses=(500, 503), seed=7))
    statuses = _statuses(local_client, 200)
    assert set(statuses) == {200, 500, 503}
    assert 60 <= statuses.count(200) <= 140


def test_a_fault_seed_makes_runs_reproducible() -> None:
    runs = []
    for _ in range(2):
        app = make_app(faults=FaultConfig(error_rate=0.3, drop_rate=0.1, seed=1234))
        client = open_api(app, "wsgi").client()
        outcomes = []
        for _ in range(40):
            try:
                outcomes.append(client.get("/contacts").status_code)
            except ConnectionDropped:
                outcomes.append(-1)
        runs.append(outcomes)
        app.close()
    assert runs[0] == runs[1]
    assert len(set(runs[0])) > 2  # the run really had a mix of faults


def test_injected_errors_do_not_act(local_client: httpx.Client, app: SandboxApp) -> None:
    app.set_faults(error_rate=1.0)
    assert local_client.post("/contacts", json={"nickName": "x"}).status_code in (429, 500, 503)
    assert app.dump(TOKEN) == []


def test_latency_delays_each_request_by_at_least_the_setting(api: Api) -> None:
    client = api.client()
    api.app.set_faults(latency=0.2)
    started = time.monotonic()
    assert client.get("/contacts").status_code == 200
    assert time.monotonic() - started >= 0.2


def test_drop_before_acting_closes_the_socket_and_changes_nothing(socket_api: Api) -> None:
    client = socket_api.client()
    socket_api.app.set_faults(drop_rate=1.0)
    with pytest.raises(httpx.TransportError):
        client.post("/contacts", json={"nickName": "lost"})
    socket_api.app.set_faults(FaultConfig())
    assert socket_api.app.dump(TOKEN) == []
    assert client.get("/contacts").status_code == 200  # the server lives on


def test_drop_after_acting_commits_the_write_but_sends_no_answer(socket_api: Api) -> None:
    client = socket_api.client()
    socket_api.app.set_faults(drop_after_rate=1.0)
    with pytest.raises(httpx.TransportError):
        client.post("/contacts", json={"nickName": "persisted"})
    socket_api.app.set_faults(FaultConfig())
    assert [c["nickName"] for c in socket_api.app.dump(TOKEN)] == ["persisted"]


def test_drop_after_acting_on_a_patch_and_a_delete(socket_api: Api) -> None:
    client = socket_api.client()
    contact = create(client)
    socket_api.app.set_faults(drop_after_rate=1.0)
    with pytest.raises(httpx.TransportError):
        client.patch(
            f"/contacts/{contact['id']}", json={"notes": "n"}, headers={"If-Match": contact["etag"]}
        )
    with pytest.raises(httpx.TransportError):
        client.delete(f"/contacts/{contact['id']}")
    socket_api.app.set_faults(FaultConfig())
    assert client.get(f"/contacts/{contact['id']}").status_code == 404


def test_in_process_drops_raise_connection_dropped(
    local_client: httpx.Client, app: SandboxApp
) -> None:
    app.set_faults(drop_rate=1.0)
    with pytest.raises(ConnectionDropped) as before:
        local_client.post("/contacts", json={"nickName": "lost"})
    assert before.value.after_acting is False
    assert app.dump(TOKEN) == []
    app.set_faults(FaultConfig(drop_after_rate=1.0))
    with pytest.raises(ConnectionDropped) as after:
        local_client.post("/contacts", json={"nickName": "kept"})
    assert after.value.after_acting is True
    assert isinstance(after.value, ConnectionError)
    assert [c["nickName"] for c in app.dump(TOKEN)] == ["kept"]


def test_not_ready_for_the_first_n_non_blocking_sync_starts(api: Api) -> None:
    client = api.client()
    api.app.set_faults(not_ready_count=2)
    answers = [client.post("/contacts/sync", params={"awaitReady": "false"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].json() == {"ready": False}
    assert answers[1].json() == {"ready": False}
    assert answers[2].json()["ready"] is True and "syncUpdatedToken" in answers[2].json()


def test_a_blocking_sync_start_waits_then_answers_ready(
    local_client: httpx.Client, app: SandboxApp
) -> None:
    app.set_faults(not_ready_count=5)
    started = time.monotonic()
    status = local_client.post("/contacts/sync").json()
    assert time.monotonic() - started >= AWAIT_READY_DELAY
    assert status["ready"] is True and status["syncDeletedToken"]


def test_fault_settings_can_be_given_at_start() -> None:
    app = make_app(faults=FaultConfig(error_rate=1.0, error_statuses=(503,)))
    try:
        client = open_api(app, "wsgi").client()
        assert client.get("/contacts").status_code == 503
    finally:
        app.close()


def test_set_faults_replaces_or_changes_and_reports(app: SandboxApp) -> None:
    assert app.set_faults(latency=0.5).latency == 0.5
    assert app.set_faults(error_rate=0.1).latency == 0.5  # keyword changes keep the rest
    assert app.set_faults(FaultConfig(drop_rate=0.2)) == FaultConfig(drop_rate=0.2)
    assert app.faults == FaultConfig(drop_rate=0.2)


@pytest.mark.parametrize(
    "settings",
    [
        {"error_rate": 1.5},
        {"drop_rate": -0.1},
        {"drop_after_rate": 2},
        {"error_statuses": (200,)},
        {"error_rate": 0.5, "error_statuses": ()},
        {"latency": -1},
        {"not_ready_count": -1},
        {"retry_after": -1},
    ],
)
def test_invalid_fault_settings_raise_value_error(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        FaultConfig(**settings)  # type: ignore[arg-type]
