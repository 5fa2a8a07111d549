"""What several subcommands share: ``--config`` and the embedded default."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..config import Config, load_config
from ..demo import demo_dir, embedded_demo


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="configuration file (default: the embedded demo on a local sandbox)",
    )
    parser.add_argument(
        "--demo-dir",
        type=Path,
        metavar="DIR",
        help=f"with no --config: where the demo keeps its files (default: {demo_dir()})",
    )


@contextmanager
def configuration(args: argparse.Namespace) -> Iterator[Config]:
    """The file's configuration, or the embedded demo (its sandbox runs meanwhile).

    Raises ConfigError or OSError; callers turn them into a one-line message.
    """
    if args.config is not None:
        yield load_config(args.config)
        return
    with embedded_demo(args.demo_dir) as config:
        yield config
