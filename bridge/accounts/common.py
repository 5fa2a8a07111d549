"""What linking and removing an account share: where ``account add`` keeps token files,
how a path is written into the configuration, and how long a call at Aurinko may take."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from ..config import Config

CHECK_TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # a call at Aurinko: one try, not long


def config_folder(config: Config) -> Path:
    """The configuration file's folder, where ``account add`` keeps token files."""
    assert config.path is not None
    return config.path.resolve().parent


def shown(path: Path, folder: Path) -> str:
    """``path`` relative to the configuration's folder when inside it, else absolute: as
    the configuration names a token file, and as the command shows it."""
    absolute = Path(os.path.abspath(path))
    for base in (folder, Path(os.path.abspath(folder))):
        if absolute.is_relative_to(base):
            return absolute.relative_to(base).as_posix()
    return str(absolute)
