"""One module per ``aurinko-bridge`` subcommand: ``add_arguments`` and ``run``."""
