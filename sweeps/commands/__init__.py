"""One module per group of commands; ``sweeps.cli`` parses and dispatches to them."""

#: The commands, in the order ``--help`` lists them; a sweep cannot take one's name (``sweeps
#: NAME`` would run the command, not the sweep).
COMMANDS = ("run", "list", "validate", "init", "check", "report", "ui", "server", "nightly", "schedule", "history")
