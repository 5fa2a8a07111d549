"""``AurinkoClient``: the Contacts API over httpx, with typed errors and bounded retries."""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import httpx

from . import models
from .breaker import Breaker
from .calls import Call, CallObserver, CallOutcome, operation, outcome_of_failure, outcome_of_status
from .errors import AurinkoError, ProtocolError, RateLimitedError, UnavailableError
from .responses import error_code, error_from_response
from .retry import NOT_PROCESSED_STATUSES, RETRYABLE_STATUSES, RetryPolicy, parse_retry_after

log = logging.getLogger("bridge.aurinko")

DEFAULT_BASE_URL = "https://api.aurinko.io/v1"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)

PageT = TypeVar("PageT", models.UpdatedPage, models.DeletedPage)

_WRITES = frozenset({"POST", "PATCH", "DELETE"})
_SUBSCRIPTION_PAGE = 50  # the API's default page size
_MAX_SUBSCRIPTION_PAGES = 100

# Failures after which the request certainly never reached the server's handler.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class AurinkoClient:
    """One Aurinko account. Thread-safe as far as httpx.Client is; close() when done.

    ``transport`` lets tests run against the sandbox in-process; ``sleep`` lets them
    skip real backoff waits. With a ``breaker``, an account found unreachable is not called
    again until its backoff has passed (calls fail at once meanwhile). ``observer`` is told
    of every HTTP attempt (``calls.Call``), retries included.
    """

    def __init__(
        self,
        token: str | Callable[[], str],
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        ready_timeout: float = 120.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        breaker: Breaker | None = None,
        observer: CallObserver | None = None,
    ) -> None:
        # A callable is asked before every request: a token renewed while we run (account
        # relink replaces the file) is used from the next call on.
        self._token = token if callable(token) else (lambda: token)
        if not self._token():
            raise ValueError("an Aurinko account token is required")
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers={"Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )
        self._retry = retry or RetryPolicy()
        self._ready_timeout = ready_timeout
        self._sleep = sleep
        self.breaker = breaker
        self._observer = observer

    def __repr__(self) -> str:
        return f"AurinkoClient(base_url={str(self._http.base_url)!r})"

    def __enter__(self) -> AurinkoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def paused_for(self) -> float:
        """Seconds until this account's calls go out again after it was found unreachable
        (0: they go out now, or there is no breaker)."""
        return self.breaker.retry_in() if self.breaker is not None else 0.0

    # -- account --------------------------------------------------------------------

    def account(self) -> models.AccountInfo:
        """The account behind the token (``GET /v1/account``): a cheap check that the token
        still works. Raises UnauthorizedError when it does not."""
        return models.parse_account(self._json("GET", "account"))

    def delete_account(self) -> None:
        """Delete the Aurinko account behind the token (``DELETE /v1/account``): Aurinko drops
        it, its subscriptions and its provider grant; the token stops working."""
        self._send("DELETE", "account", idempotent=False)

    # -- sync ---------------------------------------------------------------------

    def start_sync(self) -> models.SyncStart:
        """Start (or restart) the remote sync, polling while it answers ``ready: false``."""
        deadline = time.monotonic() + self._ready_timeout
        attempt = 0
        while True:
            body = self._json("POST", "contacts/sync", params={"awaitReady": "false"})
            started = models.parse_sync_start(body)
            if started is not None:
                return started
            attempt += 1
            wait = self._retry.delay(attempt)
            if time.monotonic() + wait > deadline:
                raise UnavailableError(f"contacts sync not ready after {self._ready_timeout:.0f} s")
            log.info("contacts sync not ready yet; polling again in %.1f s", wait)
            self._sleep(wait)

    def iter_updated(
        self, delta_token: str | None, *, page_token: str | None = None
    ) -> Iterator[models.UpdatedPage]:
        """Pages of ``sync/updated`` from ``delta_token`` (or, resuming a run, from the page
        ``page_token``); the last carries the next delta token."""
        params = {"pageToken": page_token} if page_token else {"deltaToken": delta_token or ""}
        return self._pages("contacts/sync/updated", params, models.parse_updated_page)

    def iter_deleted(self, delta_token: str) -> Iterator[models.DeletedPage]:
        """Pages of ``sync/deleted`` from ``delta_token``; the last carries the next one."""
        params = {"deltaToken": delta_token}
        return self._pages("contacts/sync/deleted", params, models.parse_deleted_page)

    def _pages(
        self, path: str, params: dict[str, str], parse: Callable[[Mapping[str, Any]], PageT]
    ) -> Iterator[PageT]:
        # Follow-up pages send only pageToken, as the vendor's own client does.
        seen: set[str] = set()
        while True:
            page = parse(self._json("GET", path, params=params))
            yield page
            if page.next_page_token is None:  # the run's last page: the caller checks its token
                return
            if page.next_page_token in seen:
                raise ProtocolError(f"{path}: page token repeats; the server is looping")
            seen.add(page.next_page_token)
            params = {"pageToken": page.next_page_token}

    # -- CRUD -----------------------------------------------------------------------

    def get(self, contact_id: str, *, with_photo: bool = False) -> models.Contact:
        params = {"withPhoto": "true"} if with_photo else None
        return models.normalize_contact(self._json("GET", _contact_path(contact_id), params=params))

    def create(self, contact: Mapping[str, Any]) -> models.WriteResult:
        body = self._json("POST", "contacts", json=dict(contact), idempotent=False)
        return self._whole(models.parse_write_result(body))

    def update(
        self, contact_id: str, fields: Mapping[str, Any], *, etag: str
    ) -> models.WriteResult:
        """PATCH only ``fields``; a stale ``etag`` raises PreconditionFailedError."""
        body = self._json(
            "PATCH", _contact_path(contact_id), json=dict(fields), headers={"If-Match": etag}
        )
        return self._whole(models.parse_write_result(body))

    def _whole(self, result: models.WriteResult) -> models.WriteResult:
        """The answer with the contact as Aurinko now holds it, read back when the answer
        carried only its id (and etag). The write went through either way: if the read
        fails, the answer stays incomplete and the caller keeps what it sent."""
        if result.complete:
            return result
        try:
            record = self.get(result.id)
        except AurinkoError as exc:
            log.warning("contact %s written; reading it back failed: %s", result.id, exc)
            return result
        return models.WriteResult(result.id, record.get("etag"), record)

    def delete(self, contact_id: str) -> None:
        self._send("DELETE", _contact_path(contact_id))

    # -- webhook subscriptions ------------------------------------------------------

    def subscriptions(self) -> list[models.Subscription]:
        """The account's webhook subscriptions, inactive ones included (``GET
        /v1/subscriptions``, every page)."""
        found: list[models.Subscription] = []
        for _ in range(_MAX_SUBSCRIPTION_PAGES):
            params = {
                "includeInactive": "true",
                "limit": str(_SUBSCRIPTION_PAGE),
                "offset": str(len(found)),
            }
            records, done = models.parse_subscriptions_page(
                self._json("GET", "subscriptions", params=params)
            )
            found.extend(records)
            if done:
                return found
        raise ProtocolError("GET subscriptions: too many pages; the server is looping")

    def subscribe(self, resource: str, notification_url: str) -> models.Subscription:
        """Subscribe ``notification_url`` to changes of ``resource`` (``/contacts``). Aurinko
        first posts a validation token to the URL, which must answer it (within 30 s)
        before this returns; else it fails (a BadRequestError, as Aurinko words it)."""
        body = {"resource": resource, "notificationUrl": notification_url}
        answer = self._json("POST", "subscriptions", json=body, idempotent=False)
        return models.parse_subscription(answer)

    def unsubscribe(self, subscription_id: str) -> None:
        """Remove a subscription; NotFoundError when Aurinko has no such one (any more)."""
        if not subscription_id:
            raise ValueError("empty subscription id")
        self._send("DELETE", "subscriptions/" + urllib.parse.quote(subscription_id, safe=""))

    # -- transport ------------------------------------------------------------------

    def _json(
        self, method: str, path: str, *, idempotent: bool = True, **kwargs: Any
    ) -> dict[str, Any]:
        response = self._send(method, path, idempotent=idempotent, **kwargs)
        try:
            body = response.json()
        except ValueError as exc:
            raise ProtocolError(f"{method} {path}: answer is not JSON") from exc
        if not isinstance(body, dict):
            raise ProtocolError(f"{method} {path}: answer is not a JSON object")
        return body

    def _send(
        self, method: str, path: str, *, idempotent: bool = True, **kwargs: Any
    ) -> httpx.Response:
        if self.breaker is None:
            return self._send_with_retries(method, path, idempotent=idempotent, **kwargs)
        wait = self.breaker.retry_in()
        if wait > 0:
            raise UnavailableError(
                f"{method} {path}: Aurinko unreachable ({self.breaker.reason});"
                f" next try in {wait:.0f} s"
            )
        try:
            response = self._send_with_retries(method, path, idempotent=idempotent, **kwargs)
        except (UnavailableError, RateLimitedError) as exc:
            if method in _WRITES and exc.status == 500:
                self.breaker.succeeded()  # it answered: about this write, not the service
                raise
            hint = exc.retry_after if isinstance(exc, RateLimitedError) else None
            pause = self.breaker.failed(str(exc), hint)
            log.warning("Aurinko unreachable; calls of this account paused %.0f s", pause)
            raise
        except AurinkoError:
            self.breaker.succeeded()  # it answered: the request was wrong, not the service
            raise
        self.breaker.succeeded()
        return response

    def _send_with_retries(
        self, method: str, path: str, *, idempotent: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """One call with bounded retries.

        A non-idempotent call (POST) is retried only when the failure proves the server
        did not act, so a lost response never turns into a second contact.
        """
        attempt = 0
        while True:
            attempt += 1
            final = attempt >= self._retry.max_attempts
            bearer = {"Authorization": f"Bearer {self._token()}"}
            sent = {**kwargs, "headers": {**kwargs.get("headers", {}), **bearer}}
            began = time.perf_counter()
            try:
                response = self._http.request(method, path, **sent)
            except httpx.TransportError as exc:
                self._observe(method, path, began, None, outcome_of_failure(exc))
                not_sent = isinstance(exc, _NOT_SENT)
                # With a breaker, a timeout is enough to know: another try would only sit
                # out the same timeout while every other call of the account waits too.
                hung = self.breaker is not None and isinstance(exc, httpx.TimeoutException)
                if final or hung or not (idempotent or not_sent):
                    raise UnavailableError(
                        f"{method} {path}: {type(exc).__name__}: {exc}",
                        may_have_applied=method in _WRITES and not not_sent,
                    ) from exc
                self._backoff(method, path, attempt, None, type(exc).__name__)
                continue
            self._observe(method, path, began, response)
            if response.status_code < 400:
                return response
            retryable = response.status_code in RETRYABLE_STATUSES and (
                idempotent or response.status_code in NOT_PROCESSED_STATUSES
            )
            if final or not retryable:
                raise self._error(method, path, response)
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            self._backoff(method, path, attempt, retry_after, str(response.status_code))

    def _observe(
        self,
        method: str,
        path: str,
        began: float,
        response: httpx.Response | None,
        failed: CallOutcome | None = None,
    ) -> None:
        if self._observer is None:
            return
        seconds = time.perf_counter() - began
        status = response.status_code if response is not None else None
        outcome = outcome_of_status(status) if status is not None else failed
        assert outcome is not None
        code = error_code(response) if response is not None and status == 401 else None
        self._observer(Call(operation(method, path), outcome, status, seconds, code))

    def _backoff(
        self, method: str, path: str, attempt: int, retry_after: float | None, why: str
    ) -> None:
        wait = self._retry.delay(attempt, retry_after)
        log.warning(
            "%s %s failed (%s), retry %d/%d in %.2f s",
            method,
            path,
            why,
            attempt,
            self._retry.max_attempts - 1,
            wait,
        )
        self._sleep(wait)

    @staticmethod
    def _error(method: str, path: str, response: httpx.Response) -> AurinkoError:
        error = error_from_response(f"{method} {path}", response)
        if isinstance(error, UnavailableError) and method in _WRITES:
            error.may_have_applied = response.status_code not in NOT_PROCESSED_STATUSES
        return error


def _contact_path(contact_id: str) -> str:
    if not contact_id:
        raise ValueError("empty contact id")
    return "contacts/" + urllib.parse.quote(contact_id, safe="")
