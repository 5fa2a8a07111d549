"""WSGI plumbing: a parsed request, JSON and HTML responses, the error envelope."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from bridge.sandbox.errors import ApiError, bad_request

MAX_BODY = 16 * 1024 * 1024


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    request_id: str

    @classmethod
    def from_environ(cls, environ: dict[str, Any], request_id: str) -> Request:
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        # WSGI keeps this one header out of the HTTP_ keys.
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = str(environ["CONTENT_TYPE"])
        return cls(
            method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
            path=str(environ.get("PATH_INFO", "")),
            query=parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True),
            headers=headers,
            body=_read_body(environ),
            request_id=request_id,
        )

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def flag(self, name: str, default: bool) -> bool:
        value = self.param(name)
        if value is None or value == "":
            return default
        return value.strip().lower() in ("true", "1", "yes")

    def form(self) -> dict[str, list[str]]:
        """The body as an HTML form (``application/x-www-form-urlencoded``); 400 otherwise."""
        kind = self.headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            raise bad_request("Request body must be application/x-www-form-urlencoded")
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise bad_request("Request body is not valid UTF-8") from exc
        return parse_qs(text, keep_blank_values=True)

    def json(self) -> Any:
        """The body as JSON; any decoding problem is the client's: 400."""
        try:
            return json.loads(self.body.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise bad_request("Request body is not valid JSON") from exc


def _read_body(environ: dict[str, Any]) -> bytes:
    raw = str(environ.get("CONTENT_LENGTH") or "0").strip()
    try:
        length = int(raw)
    except ValueError as exc:
        raise bad_request("Invalid Content-Length") from exc
    if length < 0:
        raise bad_request("Invalid Content-Length")
    if length > MAX_BODY:
        raise ApiError(413, "payloadTooLarge", f"Request body exceeds {MAX_BODY} bytes")
    if length == 0:
        return b""
    data: bytes = environ["wsgi.input"].read(length)
    return data


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(
        cls, status: int, payload: Any, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return cls(status, body, [("Content-Type", "application/json"), *(headers or [])])

    @classmethod
    def html(
        cls, status: int, body: bytes, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        return cls(status, body, [("Content-Type", "text/html; charset=utf-8"), *(headers or [])])

    @classmethod
    def error(cls, error: ApiError, request_id: str) -> Response:
        envelope: dict[str, Any] = {
            "code": error.code, "message": error.message, "requestId": request_id,
        }  # fmt: skip
        if error.original is not None:
            envelope["originalError"] = error.original
        return cls.json(error.status, envelope, error.headers)

    def status_line(self) -> str:
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Unknown"
        return f"{self.status} {phrase}"

    def all_headers(self) -> list[tuple[str, str]]:
        return [*self.headers, ("Content-Length", str(len(self.body)))]
