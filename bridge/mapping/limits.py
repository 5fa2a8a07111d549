"""Size limits applied to incoming cards (configurable per call of ``from_vcard``)."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Upper bounds on what ``from_vcard`` accepts.

    The defaults match Radicale's ``max_resource_size`` (10 MiB per card); a photo is
    bounded on its decoded size, properties on their count after unfolding.
    """

    max_bytes: int = 10 * MIB
    max_photo_bytes: int = 5 * MIB
    max_properties: int = 5_000

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_photo_bytes", "max_properties"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be positive")


DEFAULT_LIMITS = Limits()
