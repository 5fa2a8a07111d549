"""The one error type of the mapping layer."""

from __future__ import annotations


class MappingError(ValueError):
    """A card or contact that cannot be mapped; the message says what is wrong.

    ``line`` is the 1-based line number in the input card when the problem sits on one line
    (it is also part of the message), else ``None``.
    """

    def __init__(self, message: str, *, line: int | None = None) -> None:
        self.line = line
        self.reason = message  # without the line number, for callers that place it themselves

        super().__init__(f"line {line}: {message}" if line else message)
