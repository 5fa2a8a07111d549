"""Shared fixtures: the sandbox in-process and on a real loopback socket, and the store's
two backends."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bridge.config import StoreConfig
from bridge.sandbox import SandboxApp, SandboxConfig, serve_in_thread

pytest_plugins = ["tests.browser", "tests.postgres"]

STORE_BACKENDS = ["sqlite", "postgresql"]
NewStore = Callable[[], StoreConfig | None]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each test that uses a store runs on both backends, unless marked
    ``@pytest.mark.store_backends("sqlite")``: a test whose subject is not the store (its
    SQL is another test's subject) need not pay for PostgreSQL's round trips."""
    if "store_backend" not in metafunc.fixturenames:
        return
    for given in metafunc.definition.iter_markers("parametrize"):
        names = given.args[0]
        if "store_backend" in (
            names.replace(" ", "").split(",") if isinstance(names, str) else names
        ):
            return  # the test parametrizes it itself (indirect=True)
    marker = metafunc.definition.get_closest_marker("store_backends")
    backends = list(marker.args) if marker is not None else STORE_BACKENDS
    assert backends and set(backends) <= set(STORE_BACKENDS), backends
    metafunc.parametrize("store_backend", backends, indirect=True)


@pytest.fixture
def store_backend(request: pytest.FixtureRequest) -> str:
    """The test's store backend: SQLite in the data directory, or PostgreSQL (the
    session's server)."""
    return str(request.param)


@pytest.fixture
def new_store(store_backend: str, request: pytest.FixtureRequest) -> Iterator[NewStore]:
    """Makes a fresh store of the test's backend each call: None (SQLite: the store is a
    file of the data directory, new with each directory) or a new PostgreSQL schema's
    ``StoreConfig``. For tests that open several independent stores (one per example)."""
    if store_backend == "sqlite":
        yield lambda: None
        return
    server = request.getfixturevalue("postgres")
    made: list[StoreConfig] = []

    def make() -> StoreConfig:
        made.append(server.new_store())
        return made[-1]

    yield make
    for store in made:
        server.drop(store)


@pytest.fixture
def store_config(new_store: NewStore) -> StoreConfig | None:
    """The test's store: None (SQLite in the data directory) or a PostgreSQL store."""
    return new_store()


TOKEN = "test-token-alpha-0123456789"
OTHER_TOKEN = "test-token-beta-9876543210"


@pytest.fixture
def sandbox_config(tmp_path: Path, request: pytest.FixtureRequest) -> SandboxConfig:
    """Two accounts, page size 3; ``@pytest.mark.sandbox(**fields)`` overrides fields, and
    ``seed_contacts=[...]`` seeds the first account."""
    marker = request.node.get_closest_marker("sandbox")
    fields = {"page_size": 3, **(marker.kwargs if marker else {})}
    seed = fields.pop("seed_contacts", None)
    if seed is not None:
        seed_path = tmp_path / "seed.json"
        seed_path.write_text(json.dumps(seed), encoding="utf-8")
        fields["seed_path"] = str(seed_path)
    return SandboxConfig(
        db_path=str(tmp_path / "sandbox.sqlite3"), tokens=[TOKEN, OTHER_TOKEN], **fields
    )


@pytest.fixture
def sandbox_app(sandbox_config: SandboxConfig) -> SandboxApp:
    return SandboxApp(sandbox_config)


@pytest.fixture
def live_sandbox(sandbox_app: SandboxApp) -> Iterator[str]:
    """The base URL of ``sandbox_app`` served over a real 127.0.0.1 socket."""
    with serve_in_thread(sandbox_app) as running:
        yield running.url


def write_bridge_config(
    folder: Path, url: str, *, data_dir: str = "var", token_mode: int = 0o600, extra: str = ""
) -> Path:
    """``folder/bridge.toml``: one account alice/work on ``url``, its token in a file."""
    token_file = folder / "work.token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(token_mode)
    config = folder / "bridge.toml"
    config.write_text(
        f'[server]\ndata_dir = "{data_dir}"\n\n[sync]\nconflict = "remote-wins"\n\n'
        f'[[accounts]]\nname = "work"\nuser = "alice"\nbase_url = "{url}"\n'
        f'token_file = "work.token"\n{extra}',
        encoding="utf-8",
    )
    config.chmod(0o600)
    return config
