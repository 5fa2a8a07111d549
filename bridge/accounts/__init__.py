"""Accounts as the domain sees them, apart from the command line that asks for them:
linking one (``link.py``: the checks, a token the user has, the consent flow, relink) and
removing one (``remove.py``). ``bridge.commands.account`` parses the arguments, calls these
and prints what they return."""

from .common import CHECK_TIMEOUT, config_folder, shown
from .link import (
    Relink,
    TokenLinked,
    Verdict,
    add_linker,
    check_token,
    consent,
    link_token,
    only_user,
    refuse_taken,
    relinker,
    service_named,
)
from .remove import Removed, Step, purge_leftover, remove_account

__all__ = [
    "CHECK_TIMEOUT",
    "Relink",
    "Removed",
    "Step",
    "TokenLinked",
    "Verdict",
    "add_linker",
    "check_token",
    "config_folder",
    "consent",
    "link_token",
    "only_user",
    "purge_leftover",
    "refuse_taken",
    "relinker",
    "remove_account",
    "service_named",
    "shown",
]
