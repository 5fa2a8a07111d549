"""What several subcommands share: ``--config`` and the embedded default."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..config import Config, load_config
from ..demo import demo_dir, embedded_demo
from ..paths import CONFIG_NAME, config_candidates, user_config_file


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help=f"configuration file (default: ./{CONFIG_NAME}, else {user_config_file()},"
        " else the embedded demo on a local sandbox)",
    )
    parser.add_argument(
        "--demo-dir",
        type=Path,
        metavar="DIR",
        help=f"with no --config: where the demo keeps its files (default: {demo_dir()})",
    )


def find_configuration(args: argparse.Namespace) -> None:
    """Without ``--config`` (and without ``--demo-dir``, which asks for the demo), the first
    of ``./bridge.toml`` and the user's file that exists becomes ``args.config``, and
    stderr says so: a command must not quietly act on another configuration than the
    user has in mind."""
    if args.config is not None or getattr(args, "demo_dir", None) is not None:
        return
    found = next((path for path in config_candidates() if path.is_file()), None)
    if found is not None:
        args.config = found
        shown = f"./{found}" if not found.is_absolute() else str(found)
        _note(f"using the configuration {shown} (--config FILE for another)")


def announce_demo(args: argparse.Namespace) -> None:
    """Stderr says when a command acts on the embedded demo unasked (no ``--demo-dir``),
    and where it looked for a configuration first."""
    if getattr(args, "demo_dir", None) is not None:
        return
    looked = " nor ".join(f"./{p}" if not p.is_absolute() else str(p) for p in config_candidates())
    _note(f"using the embedded demo in {demo_dir()} (no --config, and neither {looked} exists)")


def _note(message: str) -> None:
    print(f"aurinko-bridge: {message}", file=sys.stderr, flush=True)


@contextmanager
def configuration(args: argparse.Namespace) -> Iterator[Config]:
    """The file's configuration, or the embedded demo (its sandbox runs meanwhile).

    Raises ConfigError or OSError; callers turn them into a one-line message.
    """
    if args.config is not None:
        yield load_config(args.config)
        return
    announce_demo(args)
    with embedded_demo(args.demo_dir) as config:
        yield config
