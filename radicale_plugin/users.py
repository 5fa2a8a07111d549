"""CardDAV users in an htpasswd file (SHA-512 crypt, which Radicale's autodetect reads)."""

from __future__ import annotations

import os
from pathlib import Path

from passlib.hash import sha512_crypt  # type: ignore[import-untyped]  # Radicale's dependency


def set_password(htpasswd: Path, user: str, password: str, rounds: int | None = None) -> None:
    """Add ``user`` or replace their password; the file stays private (0600). ``rounds``
    lowers the hash cost (tests); the default is passlib's, slow on purpose."""

    if not user or ":" in user or "/" in user:
        raise ValueError(f"invalid user name {user!r}")
    lines = htpasswd.read_text(encoding="utf-8").splitlines() if htpasswd.exists() else []
    kept = [line for line in lines if line.split(":", 1)[0] != user]
    hasher = sha512_crypt.using(rounds=rounds) if rounds else sha512_crypt
    kept.append(f"{user}:{hasher.hash(password)}")

    tmp = htpasswd.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)  # a temp file left by a crash keeps its old mode
        out.write("\n".join(kept) + "\n")
    os.replace(tmp, htpasswd)
