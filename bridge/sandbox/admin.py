"""``/_sandbox/*``: test hooks over HTTP, for a sandbox running in another process.

They take the same bearer tokens as the API and are never subject to faults, so a test
can always reach them to turn faults off again. Fault and profile settings are global to
the sandbox.
"""

from __future__ import annotations

from dataclasses import asdict

from bridge.sandbox.errors import bad_request
from bridge.sandbox.faults import FaultInjector, fault_config_from_json
from bridge.sandbox.profiles import ProfileState, profile_config_from_json
from bridge.sandbox.records import render
from bridge.sandbox.routing import Handler
from bridge.sandbox.store import Store
from bridge.sandbox.wire import Request, Response


class AdminHandlers:
    def __init__(self, store: Store, faults: FaultInjector, profile: ProfileState) -> None:
        self._store = store
        self._faults = faults
        self._profile = profile

    def routes(self) -> list[tuple[str, dict[str, Handler]]]:
        return [
            ("/_sandbox/compact", {"POST": self.compact}),
            ("/_sandbox/faults", {"GET": self.get_faults, "PUT": self.put_faults}),
            ("/_sandbox/profile", {"GET": self.get_profile, "PUT": self.put_profile}),
            ("/_sandbox/contacts", {"GET": self.dump}),
        ]

    def compact(self, request: Request, account: int, _: str) -> Response:
        return Response.json(200, {"floor": self._store.compact(account)})

    def get_faults(self, request: Request, account: int, _: str) -> Response:
        return Response.json(200, self._faults.describe())

    def put_faults(self, request: Request, account: int, _: str) -> Response:
        """Replace all fault settings; keys left out take their defaults (i.e. off)."""
        try:
            config = fault_config_from_json(request.json())
        except ValueError as exc:
            raise bad_request(f"Invalid fault settings: {exc}") from exc
        self._faults.replace(config)
        return Response.json(200, self._faults.describe())

    def get_profile(self, request: Request, account: int, _: str) -> Response:
        return Response.json(200, asdict(self._profile.config))

    def put_profile(self, request: Request, account: int, _: str) -> Response:
        """Replace the profile and every switch; keys left out take their defaults."""
        try:
            self._profile.config = profile_config_from_json(request.json())
        except ValueError as exc:
            raise bad_request(f"Invalid profile settings: {exc}") from exc
        return Response.json(200, asdict(self._profile.config))

    def dump(self, request: Request, account: int, _: str) -> Response:
        rows = self._store.live_after(account, "", None)
        weak = self._profile.config.weak_etags
        return Response.json(200, {"contacts": [render(row, True, weak) for row in rows]})
