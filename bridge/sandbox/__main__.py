"""``python -m bridge.sandbox``: serve the sandbox without the main CLI."""

from __future__ import annotations

import argparse
import logging
import sys

from bridge.sandbox.cli import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bridge.sandbox",
        description="A local stand-in for the Aurinko Contacts API.",
    )
    add_arguments(parser)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
