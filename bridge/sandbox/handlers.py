"""Handlers of the ``/v1`` endpoints of the contract."""

from __future__ import annotations

import time
from typing import Any

from bridge.sandbox.constraints import enforce
from bridge.sandbox.contacts import ContactService
from bridge.sandbox.errors import contact_not_found
from bridge.sandbox.etags import answered
from bridge.sandbox.faults import AWAIT_READY_DELAY, FaultInjector
from bridge.sandbox.profiles import ProfileConfig, ProfileState
from bridge.sandbox.records import render
from bridge.sandbox.routing import Handler
from bridge.sandbox.store import ContactRow, Store
from bridge.sandbox.sync import SyncService
from bridge.sandbox.tokens import Chain
from bridge.sandbox.validation import parse_contact
from bridge.sandbox.wire import Request, Response


def _contact_or_id(
    status: int, row: ContactRow, request: Request, profile: ProfileConfig
) -> Response:
    """``ContactOrId``, or as much of it as the ``write_answer`` switch lets through."""
    answer: dict[str, Any] = {"id": row.id}
    if profile.write_answer != "id":
        answer["etag"] = answered(row.etag, profile.weak_etags)
    if profile.write_answer == "record":
        with_photo = request.flag("withPhoto", False)
        answer["record"] = render(row, with_photo, profile.weak_etags)
    return Response.json(status, answer)


class ApiHandlers:
    def __init__(
        self,
        store: Store,
        contacts: ContactService,
        sync: SyncService,
        faults: FaultInjector,
        profile: ProfileState,
    ) -> None:
        self._profile = profile
        self._store = store
        self._contacts = contacts
        self._sync = sync
        self._faults = faults

    def routes(self) -> list[tuple[str, dict[str, Handler]]]:
        return [
            ("/v1/contacts/sync", {"POST": self.start_sync}),
            ("/v1/contacts/sync/updated", {"GET": self.sync_updated}),
            ("/v1/contacts/sync/deleted", {"GET": self.sync_deleted}),
            ("/v1/contacts", {"GET": self.list_contacts, "POST": self.create_contact}),
            ("/v1/contacts/{id}", {
                "GET": self.get_contact, "PATCH": self.patch_contact,
                "DELETE": self.delete_contact,
            }),
        ]  # fmt: skip

    def start_sync(self, request: Request, account: int, _: str) -> Response:
        if not request.flag("awaitReady", True):
            if self._faults.take_not_ready():
                return Response.json(200, {"ready": False})
        elif self._faults.sync_pending():
            # A blocking start waits a moment for the (simulated) sync to become ready.
            time.sleep(AWAIT_READY_DELAY)
        return Response.json(200, self._sync.start(account))

    def _sync_page(self, request: Request, account: int, chain: Chain) -> Response:
        page = self._sync.page(
            account, chain, request.param("deltaToken"), request.param("pageToken")
        )
        return Response.json(200, page)

    def sync_updated(self, request: Request, account: int, _: str) -> Response:
        return self._sync_page(request, account, "updated")

    def sync_deleted(self, request: Request, account: int, _: str) -> Response:
        return self._sync_page(request, account, "deleted")

    def list_contacts(self, request: Request, account: int, _: str) -> Response:
        return Response.json(200, self._sync.list_page(account, request.param("pageToken")))

    def create_contact(self, request: Request, account: int, _: str) -> Response:
        profile = self._profile.config
        body = enforce(profile, parse_contact(request.json()))
        return _contact_or_id(201, self._contacts.create(account, body), request, profile)

    def get_contact(self, request: Request, account: int, contact_id: str) -> Response:
        row = self._store.get(account, contact_id)
        if row is None:
            raise contact_not_found()
        weak = self._profile.config.weak_etags
        return Response.json(200, render(row, request.flag("withPhoto", False), weak))

    def patch_contact(self, request: Request, account: int, contact_id: str) -> Response:
        profile = self._profile.config
        body = enforce(profile, parse_contact(request.json()))
        if_match = request.headers.get("if-match")
        row = self._contacts.patch(account, contact_id, if_match, body)
        return _contact_or_id(200, row, request, profile)

    def delete_contact(self, request: Request, account: int, contact_id: str) -> Response:
        self._contacts.delete(account, contact_id)
        # 200 with no documented body: send none.
        return Response(200)
