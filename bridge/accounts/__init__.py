"""Accounts as the domain sees them, apart from the command line that asks for them:
removing one (``remove.py``). ``bridge.commands.account`` parses the arguments, calls these
and prints what they return."""

from .common import CHECK_TIMEOUT, config_folder, shown
from .remove import Removed, Step, purge_leftover, remove_account

__all__ = [
    "CHECK_TIMEOUT",
    "Removed",
    "Step",
    "config_folder",
    "purge_leftover",
    "remove_account",
    "shown",
]
