"""Path templates to handlers; unknown paths answer 404 and wrong methods 405."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from bridge.sandbox.errors import ApiError
from bridge.sandbox.wire import Request, Response

# A handler gets the request, the caller's account and the ``{id}`` path segment (or "").
Handler = Callable[[Request, int, str], Response]
# Any kind of handler: the OAuth endpoints, which no account calls, take no account.
H = TypeVar("H")


@dataclass(frozen=True)
class Route(Generic[H]):
    pattern: re.Pattern[str]
    methods: dict[str, H]


def _compile(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(template).replace(r"\{id\}", "(?P<id>[^/]+)") + "$")


class Router(Generic[H]):
    def __init__(self, routes: list[tuple[str, dict[str, H]]]) -> None:
        # Order matters: literal paths (``/v1/contacts/sync``) come before ``{id}``.
        self._routes = [Route(_compile(template), methods) for template, methods in routes]

    def resolve(self, method: str, path: str) -> tuple[H, str]:
        for route in self._routes:
            match = route.pattern.match(path)
            if match is None:
                continue
            handler = route.methods.get(method)
            if handler is None:
                allowed = ", ".join(sorted(route.methods))
                raise ApiError(
                    405, "methodNotAllowed", f"Method {method} not allowed on {path}",
                    [("Allow", allowed)],
                )  # fmt: skip
            return handler, match.groupdict().get("id") or ""
        raise ApiError(404, "notFound", f"No such endpoint: {path}")
